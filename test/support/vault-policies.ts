import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { REPO_ROOT } from './kubernetes-manifests.ts';

export const VAULT_DIR = join(REPO_ROOT, 'deploy', 'vault');

/** One `path "..." { capabilities = [...] }` block of a Vault policy. */
export interface PolicyRule {
  path: string;
  capabilities: string[];
}

/**
 * Parses the subset of HCL our policies use: comments, and `path` blocks holding one `capabilities` list. Anything
 * else is refused, so a policy cannot carry a rule this parser (and so the tests) would not see.
 */
export function parsePolicy(text: string): PolicyRule[] {
  const source = text.replaceAll(/#[^\n]*/g, '').trim();
  const block = /path\s+"([^"]+)"\s*\{\s*capabilities\s*=\s*\[([^\]]*)\]\s*\}/y;
  const rules: PolicyRule[] = [];
  let at = 0;
  while (at < source.length) {
    while (/\s/.test(source[at] ?? '')) at++;
    if (at >= source.length) break;
    block.lastIndex = at;
    const match = block.exec(source);
    if (!match) throw new Error(`unexpected policy text: ${source.slice(at, at + 60)}`);
    const capabilities = match[2]!
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean)
      .map((item) => {
        const quoted = /^"([a-z]+)"$/.exec(item);
        if (!quoted) throw new Error(`capability ${item} is not a quoted word`);
        return quoted[1]!;
      });
    rules.push({ path: match[1]!, capabilities });
    at = block.lastIndex;
  }
  return rules;
}

export function loadPolicies(): Map<string, PolicyRule[]> {
  const directory = join(VAULT_DIR, 'policies');
  return new Map(
    readdirSync(directory)
      .filter((name) => name.endsWith('.hcl'))
      .map((name) => [basename(name, '.hcl'), parsePolicy(readFileSync(join(directory, name), 'utf8'))]),
  );
}

export interface VaultRole {
  token_policies: string[];
  token_ttl: string;
  token_max_ttl: string;
  bound_service_account_names?: string[];
  bound_service_account_namespaces?: string[];
  secret_id_ttl?: string;
  secret_id_num_uses?: number;
  [field: string]: unknown;
}

export function loadRoles(method: 'kubernetes' | 'approle'): Map<string, VaultRole> {
  const directory = join(VAULT_DIR, 'roles', method);
  return new Map(
    readdirSync(directory)
      .filter((name) => name.endsWith('.json'))
      .map((name) => [
        basename(name, '.json'),
        JSON.parse(readFileSync(join(directory, name), 'utf8')) as VaultRole,
      ]),
  );
}

/** Vault's duration strings as our roles write them (`30m`, `1h`, `720h`, `90s`), in seconds. */
export function durationSeconds(duration: string): number {
  const match = /^(\d+)(s|m|h)$/.exec(duration);
  if (!match) throw new Error(`duration ${duration} is not <n>s|m|h`);
  return Number(match[1]) * { s: 1, m: 60, h: 3_600 }[match[2] as 's' | 'm' | 'h'];
}

/** Vault's path matching: exact, or a prefix when the rule ends in `*`; `+` matches one path segment. */
export function pathMatches(rule: string, path: string): boolean {
  const pattern = rule
    .split('')
    .map((char, index) => {
      if (char === '*' && index === rule.length - 1) return '.*';
      if (char === '+') return '[^/]+';
      return char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return new RegExp(`^${pattern}$`).test(path);
}

/** The capabilities a set of policies grants on a path (Vault takes the union over matching rules). */
export function capabilitiesOn(policies: PolicyRule[][], path: string): Set<string> {
  const granted = new Set<string>();
  for (const rules of policies)
    for (const rule of rules)
      if (pathMatches(rule.path, path)) for (const c of rule.capabilities) granted.add(c);
  return granted;
}
