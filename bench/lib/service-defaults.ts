import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { usersConfigSchema } from '../../src/services/users/config.ts';
import { DEPLOYMENT, DOCKERFILE, deploymentContainer, dockerfileEnv } from './pod-limits.ts';

/**
 * The user-service's own defaults for the keys that decide what a request costs beyond its work: tracing
 * (OTEL_*), logging (LOG_*) and the PostgreSQL pool size the raw pg contender copies. Read from the config schema,
 * so the benchmark measures what the service ships, whatever that is today. The start-up warm-up is a setting of
 * the shipped artefact (0 in the schema, so tests and `npm start` skip it): its count is read as a pod gets it, the
 * base Deployment's env over the image's ENV. So is DOCS_ENABLED (on in the schema for a laptop, off in the base
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

const BASE_CONFIG_MAP = 'deploy/k8s/base/user-service.env';

/** A key as a pod gets it: the Deployment's env, else the base ConfigMap, else the image's ENV. */
function shippedSetting(root: string, key: string): string | undefined {
  const container = deploymentContainer(readFileSync(join(root, DEPLOYMENT), 'utf8'));
  return (
    container.env?.find((e) => e.name === key)?.value ??
    parseEnv(readFileSync(join(root, BASE_CONFIG_MAP), 'utf8'))[key] ??
    dockerfileEnv(readFileSync(join(root, DOCKERFILE), 'utf8'), key)
  );
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
    shippedSetting(root, 'WARM_UP_REQUESTS') ?? properties.WARM_UP_REQUESTS?.default ?? 0,
  );
  observability.WARM_UP_REQUESTS = warmUpRequests;
  const docsEnabled =
    (shippedSetting(root, 'DOCS_ENABLED') ?? String(properties.DOCS_ENABLED?.default)) === 'true';
  observability.DOCS_ENABLED = docsEnabled;
  return { sampleRatio, poolMax, observability, warmUpRequests, docsEnabled };
}
