import type { TObject } from 'typebox';

export const REDACTED = '[REDACTED]';

/** Keys whose schema carries `secret: true` are replaced; URLs lose their password. */
export function redactConfig(schema: TObject, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    const isSecret = (schema.properties[key] as { secret?: boolean } | undefined)?.secret === true;
    if (isSecret && value !== undefined) out[key] = REDACTED;
    else out[key] = typeof value === 'string' ? redactUrlPassword(value) : value;
  }
  return out;
}

export function redactUrlPassword(value: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(value)) return value;
  try {
    const url = new URL(value);
    if (url.password === '') return value;
    url.password = 'REDACTED';
    return url.toString();
  } catch {
    return value;
  }
}

/** The effective configuration as logged at start: redacted values plus where each came from. */
export function describeConfig(
  schema: TObject,
  values: Record<string, unknown>,
  origins: Record<string, string>,
): Record<string, { value: unknown; origin: string }> {
  const redacted = redactConfig(schema, values);
  const out: Record<string, { value: unknown; origin: string }> = {};
  for (const key of Object.keys(schema.properties)) {
    out[key] = { value: redacted[key], origin: origins[key] ?? 'default' };
  }
  return out;
}
