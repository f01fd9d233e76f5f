import { usersConfigSchema } from '../../src/services/users/config.ts';
import { shippedSetting } from './pod-limits.ts';

/**
 * The user-service's own defaults for the keys that decide what a request costs beyond its work: tracing
 * (OTEL_*), logging (LOG_*) and the PostgreSQL pool size the raw pg contender copies. Read from the config schema,
 * so the benchmark measures what the service ships, whatever that is today. The start-up warm-up is a setting of
 * the shipped artefact (0 in the schema, so tests and `npm start` skip it): its count is read as a pod gets it
 * (`shippedSetting`: Deployment env, base ConfigMap, image ENV). So is DOCS_ENABLED (on in the schema for a laptop, off in the base
 * ConfigMap): with the docs on, Swagger's plugins cost about 5 % of GET throughput.
 */
export interface ServiceDefaults {
  sampleRatio: number;
  poolMax: number;
  /** Every default of a tracing or logging key, as the report shows it. */
  observability: Record<string, unknown>;
  /** WARM_UP_REQUESTS as the pod runs: requests the service sends itself before readiness passes. */
  warmUpRequests: number;
  /** DOCS_ENABLED as the pod runs (the base ConfigMap's value). */
  docsEnabled: boolean;
}

export function readServiceDefaults(root: string): ServiceDefaults {
  const properties = usersConfigSchema.properties as Record<string, { default?: unknown }>;
  const observability: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(properties)) {
    if (/^(OTEL_|LOG_|REQUEST_LOG)/.test(key) && schema.default !== undefined)
      observability[key] = schema.default;
  }
  const sampleRatio = Number(properties.OTEL_TRACES_SAMPLER_ARG?.default ?? 1);
  const poolMax = Number(properties.DB_POOL_MAX?.default ?? 10);
  const warmUpRequests = Number(
    shippedSetting(root, 'WARM_UP_REQUESTS')?.value ?? properties.WARM_UP_REQUESTS?.default ?? 0,
  );
  observability.WARM_UP_REQUESTS = warmUpRequests;
  const docsEnabled =
    (shippedSetting(root, 'DOCS_ENABLED')?.value ?? String(properties.DOCS_ENABLED?.default)) === 'true';
  observability.DOCS_ENABLED = docsEnabled;
  return { sampleRatio, poolMax, observability, warmUpRequests, docsEnabled };
}

/**
 * The environment a pod runs the bundle with, as far as it decides start-up and request cost: production mode,
 * info logs, and the warm-up and docs as shipped. Every start of the bundle in the benchmark begins from it.
 */
export function shippedServiceEnv(defaults: ServiceDefaults): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    WARM_UP_REQUESTS: String(defaults.warmUpRequests),
    DOCS_ENABLED: String(defaults.docsEnabled),
  };
}
