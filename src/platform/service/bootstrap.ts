import { type Static, Type } from 'typebox';
import { dotenvCascadeSource } from '../config/dotenv-cascade-source.ts';
import { environmentSource } from '../config/environment-source.ts';
import { filesDirectorySource } from '../config/files-directory-source.ts';
import { liveConfigProperties } from '../config/live-config.ts';
import { loadConfig } from '../config/load-config.ts';
import { platformConfigProperties } from '../config/platform-config-schema.ts';
import { tracingConfigProperties } from '../tracing/tracing-config.ts';

/** The keys needed before anything else loads: the logger's identity and tracing. */
const bootstrapProperties = {
  SERVICE_NAME: platformConfigProperties.SERVICE_NAME,
  APP_VERSION: platformConfigProperties.APP_VERSION,
  CANARY: platformConfigProperties.CANARY,
  LOG_LEVEL: platformConfigProperties.LOG_LEVEL,
  OTEL_EXPORTER_OTLP_ENDPOINT: tracingConfigProperties.OTEL_EXPORTER_OTLP_ENDPOINT,
  OTEL_TRACES_SAMPLER_ARG: tracingConfigProperties.OTEL_TRACES_SAMPLER_ARG,
  CONFIG_DIR: liveConfigProperties.CONFIG_DIR,
};

/** A service schema that carries the bootstrap keys (it may give them its own defaults, e.g. SERVICE_NAME). */
export interface BootstrapCapableSchema {
  properties: typeof bootstrapProperties;
}

export type BootstrapValues = Static<ReturnType<typeof bootstrapSchemaOf>>;

/** The bootstrap keys as the service defines them, so their defaults match the full load. */
function bootstrapSchemaOf({ properties }: BootstrapCapableSchema) {
  return Type.Object({
    SERVICE_NAME: properties.SERVICE_NAME,
    APP_VERSION: properties.APP_VERSION,
    CANARY: properties.CANARY,
    LOG_LEVEL: properties.LOG_LEVEL,
    OTEL_EXPORTER_OTLP_ENDPOINT: properties.OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_TRACES_SAMPLER_ARG: properties.OTEL_TRACES_SAMPLER_ARG,
    CONFIG_DIR: properties.CONFIG_DIR,
  });
}

/**
 * Reads the bootstrap keys from the local layers: the .env cascade, CONFIG_DIR (a mounted ConfigMap) and the
 * environment, in the same order as the full load. The remote centre and Vault come later, so these keys are
 * restart-only and set locally.
 */
export async function readBootstrap(serviceSchema: BootstrapCapableSchema): Promise<BootstrapValues> {
  const schema = bootstrapSchemaOf(serviceSchema);
  const dotenv = dotenvCascadeSource({ directory: process.cwd(), nodeEnv: process.env.NODE_ENV });
  const environment = environmentSource();
  const first = await loadConfig(schema, [dotenv, environment]);
  if (first.values.CONFIG_DIR === undefined) return first.values;
  return (await loadConfig(schema, [dotenv, filesDirectorySource(first.values.CONFIG_DIR), environment]))
    .values;
}
