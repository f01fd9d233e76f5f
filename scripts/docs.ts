/**
 * Regenerates the README's configuration table from the services' config schemas, so the documented keys,
 * defaults and meanings cannot drift from the code. `npm run docs` writes it; `npm run docs -- --check` exits 1
 * when the README is stale (the test suite runs the same comparison).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TObject, TSchema } from 'typebox';

const ROOT = join(import.meta.dirname, '..');
export const README_PATH = join(ROOT, 'README.md');
const START = '<!-- config-keys:start -->';
const END = '<!-- config-keys:end -->';

interface KeyRow {
  key: string;
  defaultValue: string;
  services: string[];
  flags: string[];
  description: string;
}

/** Each service's `config.ts` exports exactly one `...ConfigSchema` object: the keys that service reads. */
export async function loadServiceSchemas(): Promise<Map<string, TObject>> {
  const servicesDir = join(ROOT, 'src', 'services');
  const schemas = new Map<string, TObject>();
  for (const entry of (await readdir(servicesDir, { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    if (!entry.isDirectory()) continue;
    const module = (await import(pathToFileURL(join(servicesDir, entry.name, 'config.ts')).href)) as Record<
      string,
      unknown
    >;
    const found = Object.entries(module).filter(([name]) => name.endsWith('ConfigSchema'));
    if (found.length !== 1) {
      throw new Error(`src/services/${entry.name}/config.ts must export exactly one *ConfigSchema`);
    }
    schemas.set(entry.name, found[0]![1] as TObject);
  }
  return schemas;
}

function formatDefault(schema: TSchema & { default?: unknown }): string {
  if (!('default' in schema) || schema.default === undefined) return '—';
  const value = schema.default;
  if (value === '') return '(empty)';
  return `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

export function collectRows(schemas: Map<string, TObject>): KeyRow[] {
  const rows = new Map<string, KeyRow>();
  for (const [service, schema] of schemas) {
    for (const [key, property] of Object.entries(schema.properties)) {
      const keySchema = property as TSchema & {
        description?: string;
        secret?: boolean;
        reloadable?: boolean;
        default?: unknown;
      };
      const existing = rows.get(key);
      if (existing) {
        existing.services.push(service);
        continue;
      }
      const flags: string[] = [];
      if (keySchema.reloadable) flags.push('reloadable');
      if (keySchema.secret) flags.push('secret');
      const required = !('default' in keySchema) && (schema.required ?? []).includes(key);
      rows.set(key, {
        key,
        defaultValue: required ? 'required' : formatDefault(keySchema),
        services: [service],
        flags,
        description: keySchema.description ?? '',
      });
    }
  }
  return [...rows.values()].sort((a, b) => a.key.localeCompare(b.key));
}

export function renderTable(rows: KeyRow[]): string {
  const lines = ['| key | default | services | notes | meaning |', '|---|---|---|---|---|'];
  for (const row of rows) {
    lines.push(
      `| \`${row.key}\` | ${row.defaultValue} | ${row.services.join(', ')} | ${row.flags.join(', ')} | ${escapeCell(row.description)} |`,
    );
  }
  return lines.join('\n');
}

export function replaceBetweenMarkers(readme: string, table: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1 || end === -1 || end < start) throw new Error(`README.md lacks ${START} … ${END}`);
  return `${readme.slice(0, start + START.length)}\n${table}\n${readme.slice(end)}`;
}

export async function renderReadme(): Promise<{ current: string; expected: string }> {
  const current = await readFile(README_PATH, 'utf8');
  const table = renderTable(collectRows(await loadServiceSchemas()));
  return { current, expected: replaceBetweenMarkers(current, table) };
}

if (import.meta.main) {
  const { current, expected } = await renderReadme();
  if (process.argv.includes('--check')) {
    if (current !== expected) {
      console.error('README.md configuration table is stale: run `npm run docs`');
      process.exit(1);
    }
    console.log('README.md configuration table is current');
  } else if (current !== expected) {
    await writeFile(README_PATH, expected);
    console.log('README.md configuration table updated');
  } else {
    console.log('README.md configuration table already current');
  }
}
