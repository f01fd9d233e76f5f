import { usersConfigSchema } from '../../src/services/users/config.ts';

/**
 * The user-service's own defaults for the keys that decide what a request costs beyond its work: tracing
 * (OTEL_*), logging (LOG_*) and the PostgreSQL pool size the raw pg contender copies. Read from the config schema,
 * so the benchmark measures what the service ships, whatever that is today.
 */
export interface ServiceDefaults {
  sampleRatio: number;
  poolMax: number;
  /** Every default of a tracing or logging key, as the report shows it. */
  observability: Record<string, unknown>;
}

export function readServiceDefaults(): ServiceDefaults {
  const properties = usersConfigSchema.properties as Record<string, { default?: unknown }>;
  const observability: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(properties)) {
    if (/^(OTEL_|LOG_|REQUEST_LOG)/.test(key) && schema.default !== undefined)
      observability[key] = schema.default;
  }
  const sampleRatio = Number(properties.OTEL_TRACES_SAMPLER_ARG?.default ?? 1);
  const poolMax = Number(properties.DB_POOL_MAX?.default ?? 10);
  return { sampleRatio, poolMax, observability };
}
