import { readFile } from 'node:fs/promises';
import type { Static, TObject, TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { ConfigError } from './config-error.ts';
import type { ConfigLayer, ConfigSource, SourcedValue } from './config-source.ts';

export const FILE_SUFFIX = '_FILE';
export const DEFAULT_ORIGIN = 'default';

export interface LoadedConfig<S extends TObject> {
  values: Static<S>;
  /** Where each key's effective value came from (a file name, `environment`, `default`, ...). */
  origins: Record<string, string>;
}

/** Merges layers so a later one wins, keeping each key's origin. */
export function mergeLayers(layers: ConfigLayer[]): ConfigLayer {
  return Object.assign({}, ...layers);
}

/**
 * Replaces `NAME_FILE` entries by the content of the file they name. A `NAME_FILE` beats a plain `NAME`
 * from the same or a lower layer, which is why it is resolved per layer before merging.
 */
export async function resolveFileReferences(
  layer: ConfigLayer,
  keys: ReadonlySet<string>,
  /** Collects the paths read, so a config store can watch them and reload when a secret is rotated. */
  referencedFiles?: Set<string>,
): Promise<ConfigLayer> {
  const resolved: ConfigLayer = { ...layer };
  for (const [name, entry] of Object.entries(layer)) {
    if (!name.endsWith(FILE_SUFFIX)) continue;
    const key = name.slice(0, -FILE_SUFFIX.length);
    if (!keys.has(key)) continue;
    referencedFiles?.add(entry.value);
    resolved[key] = await readSecretFile(key, entry);
    delete resolved[name];
  }
  return resolved;
}

async function readSecretFile(key: string, entry: SourcedValue): Promise<SourcedValue> {
  try {
    const content = await readFile(entry.value, 'utf8');
    return {
      value: content.replace(/\r?\n$/, ''),
      origin: `file ${entry.value} (${key}${FILE_SUFFIX} from ${entry.origin})`,
    };
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(
      key,
      `Invalid configuration: ${key}${FILE_SUFFIX} points to ${entry.value}, which cannot be read (${reason}; from ${entry.origin})`,
    );
  }
}

/**
 * Turns raw string layers into typed, validated values. Throws a ConfigError naming the first bad key,
 * the problem and where the value came from.
 */
export function decodeConfig<S extends TObject>(schema: S, merged: ConfigLayer): LoadedConfig<S> {
  const raw: Record<string, unknown> = {};
  const origins: Record<string, string> = {};
  for (const key of Object.keys(schema.properties)) {
    const entry = merged[key];
    if (entry === undefined || entry.value === '') {
      origins[key] = DEFAULT_ORIGIN;
      continue;
    }
    raw[key] = entry.value;
    origins[key] = entry.origin;
  }
  const values = Value.Default(schema, Value.Convert(schema, raw)) as Record<string, unknown>;
  for (const [key, propertySchema] of Object.entries(schema.properties) as [string, TSchema][]) {
    const problem = describeProblem(propertySchema, values[key], schema.required?.includes(key) ?? false);
    if (problem === undefined) continue;
    if (values[key] === undefined) {
      throw new ConfigError(
        key,
        `Missing configuration: ${key} is required (${problem}; set it in the environment or a .env file)`,
      );
    }
    const isSecret = (propertySchema as { secret?: boolean }).secret === true;
    const got = isSecret ? '[REDACTED]' : JSON.stringify(merged[key]?.value ?? values[key]);
    throw new ConfigError(key, `Invalid configuration: ${key} ${problem} (got ${got} from ${origins[key]})`);
  }
  return { values: values as Static<S>, origins };
}

function describeProblem(schema: TSchema, value: unknown, required: boolean): string | undefined {
  if (value === undefined) return required ? describeExpected(schema) : undefined;
  if (Value.Check(schema, value)) return undefined;
  return `must be ${describeExpected(schema)}`;
}

function describeExpected(schema: TSchema): string {
  const s = schema as Record<string, unknown>;
  if (Array.isArray(s.enum)) return `one of ${(s.enum as unknown[]).join(', ')}`;
  if (Array.isArray(s.anyOf)) {
    return `one of ${(s.anyOf as Record<string, unknown>[]).map((option) => option.const ?? option.type).join(', ')}`;
  }
  const bounds: string[] = [];
  if (s.minimum !== undefined) bounds.push(`>= ${s.minimum}`);
  if (s.maximum !== undefined) bounds.push(`<= ${s.maximum}`);
  if (s.minLength !== undefined) bounds.push(`at least ${s.minLength} characters`);
  if (s.pattern !== undefined) bounds.push(`matching ${s.pattern}`);
  if (s.format !== undefined) bounds.push(`a ${s.format}`);
  const type =
    s.type === 'integer' ? 'an integer' : s.type === 'boolean' ? 'true or false' : `a ${String(s.type)}`;
  return bounds.length > 0 ? `${type} ${bounds.join(', ')}` : type;
}

/** Loads every source once, in order, resolves `NAME_FILE` references and merges the layers (later wins). */
export async function loadLayers(
  schema: TObject,
  sources: ConfigSource[],
  referencedFiles?: Set<string>,
): Promise<ConfigLayer> {
  const keys = new Set(Object.keys(schema.properties));
  const layers: ConfigLayer[] = [];
  for (const source of sources) {
    layers.push(await resolveFileReferences(await source.load(), keys, referencedFiles));
  }
  return mergeLayers(layers);
}

/** Loads every source once, in order, and decodes the result against the schema. */
export async function loadConfig<S extends TObject>(
  schema: S,
  sources: ConfigSource[],
): Promise<LoadedConfig<S>> {
  return decodeConfig(schema, await loadLayers(schema, sources));
}
