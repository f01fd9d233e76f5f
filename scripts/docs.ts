/**
 * Regenerates the configuration table in docs/configuration.md from the services' config schemas, so the
 * documented keys, defaults and meanings cannot drift from the code. `npm run docs` writes it;
 * `npm run docs -- --check` exits 1 when the page is stale (the test suite runs the same comparison).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TObject, TSchema } from 'typebox';

const ROOT = join(import.meta.dirname, '..');
export const CONFIGURATION_DOC_PATH = join(ROOT, 'docs', 'configuration.md');
const DOC_NAME = 'docs/configuration.md';
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

export function replaceBetweenMarkers(page: string, table: string): string {
  const start = page.indexOf(START);
  const end = page.indexOf(END);
  if (start === -1 || end === -1 || end < start) throw new Error(`${DOC_NAME} lacks ${START} … ${END}`);
  return `${page.slice(0, start + START.length)}\n${table}\n${page.slice(end)}`;
}

export async function renderConfigurationDoc(): Promise<{ current: string; expected: string }> {
  const current = await readFile(CONFIGURATION_DOC_PATH, 'utf8');
  const table = renderTable(collectRows(await loadServiceSchemas()));
  return { current, expected: replaceBetweenMarkers(current, table) };
}

if (import.meta.main) {
  const { current, expected } = await renderConfigurationDoc();
  if (process.argv.includes('--check')) {
    if (current !== expected) {
      console.error(`${DOC_NAME}: the configuration table is stale: run \`npm run docs\``);
      process.exit(1);
    }
    console.log(`${DOC_NAME}: the configuration table is current`);
  } else if (current !== expected) {
    await writeFile(CONFIGURATION_DOC_PATH, expected);
    console.log(`${DOC_NAME}: the configuration table updated`);
  } else {
    console.log(`${DOC_NAME}: the configuration table already current`);
  }
}
