import { stdSerializers } from 'pino';

export const CENSOR = '[REDACTED]';

/** Field names whose values never reach a log line, in the top three levels of a logged object. */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'authorization',
  'password',
  'token',
  'secret',
  'cookie',
]);
/** Header names censored inside a `headers` object, at the top or one level down. */
const SECRET_HEADERS: ReadonlySet<string> = new Set(['set-cookie', 'x-vault-token']);
/** Censored at the top level only: the effective configuration is logged as one object at start. */
const SECRET_TOP_LEVEL_KEYS: ReadonlySet<string> = new Set(['DATABASE_PASSWORD']);
const DEPTH = 3;

/** Objects and arrays are walked; a nested Error is left to JSON (its message and stack are not enumerable). */
function walkable(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !(value instanceof Error) && !ArrayBuffer.isView(value)
  );
}

/**
 * The log line's object with secrets replaced, copied only along the paths that held one: a line without secrets
 * (every request line) is returned as it came, after one pass over its keys. pino's `redact` does the same job
 * with wildcard paths, but copies and walks every value of every line (a tenth of the CPU of a request).
 */
function redact(object: Record<string, unknown>, depth: number, inHeaders: boolean): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key in object) {
    if (!Object.hasOwn(object, key)) continue;
    const value = object[key];
    let replacement: unknown = value;
    if (
      SECRET_KEYS.has(key) ||
      (depth === 1 && SECRET_TOP_LEVEL_KEYS.has(key)) ||
      (inHeaders && SECRET_HEADERS.has(key))
    ) {
      if (value !== undefined) replacement = CENSOR;
    } else if (depth < DEPTH && walkable(value)) {
      replacement = redact(value, depth + 1, key === 'headers');
    }
    if (replacement !== value) {
      copy ??= Array.isArray(object) ? ([...object] as unknown as Record<string, unknown>) : { ...object };
      copy[key] = replacement;
    }
  }
  return copy ?? object;
}

const censor = () => CENSOR;
/**
 * Serializers by field name: they also apply to a child logger's bindings, which pino formats without
 * `formatters.log` (a secret nested inside a binding is not caught; bindings are ids and names).
 */
export const SECRET_SERIALIZERS: Record<string, () => string> = Object.fromEntries(
  [...SECRET_KEYS, ...SECRET_TOP_LEVEL_KEYS].map((key) => [key, censor]),
);

/**
 * pino's error serializer, with the class name as esbuild's bundle may have renamed it: two bundled modules that
 * each define e.g. a `DatabaseError` class keep one name and get a `DatabaseError2`, and `type` reports the name.
 */
export function serializeError(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const serialized = stdSerializers.err(value);
  if (/[A-Za-z]\d+$/.test(serialized.type)) serialized.type = serialized.type.replace(/\d+$/, '');
  return serialized;
}

/**
 * Redacts a line's fields (`formatters.log`) or the root logger's bindings (`formatters.bindings`). Errors at the
 * top level are serialized first, so secrets in their own fields are redacted too.
 */
export function redactSecrets(object: Record<string, unknown>): Record<string, unknown> {
  let source = object;
  for (const key in object) {
    if (object[key] instanceof Error) {
      if (source === object) source = { ...object };
      source[key] = serializeError(object[key]);
    }
  }
  return redact(source, 1, false);
}
