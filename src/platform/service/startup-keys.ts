import { type Static, Type } from 'typebox';
import { liveConfigProperties } from '../config/live-config-schema.ts';
import { decodeLocal, type LocalLayers } from '../config/local-layers.ts';
import { platformConfigProperties } from '../config/platform-config-schema.ts';
import { tracingConfigProperties } from '../tracing/tracing-config.ts';

/** The start-up keys: what is needed before anything else loads (the logger's identity and tracing). */
const startupKeyProperties = {
  SERVICE_NAME: platformConfigProperties.SERVICE_NAME,
  APP_VERSION: platformConfigProperties.APP_VERSION,
  CANARY: platformConfigProperties.CANARY,
  LOG_LEVEL: platformConfigProperties.LOG_LEVEL,
  OTEL_EXPORTER_OTLP_ENDPOINT: tracingConfigProperties.OTEL_EXPORTER_OTLP_ENDPOINT,
  OTEL_TRACES_SAMPLER_ARG: tracingConfigProperties.OTEL_TRACES_SAMPLER_ARG,
  CONFIG_DIR: liveConfigProperties.CONFIG_DIR,
};

/** A service schema that carries the start-up keys (it may give them its own defaults, e.g. SERVICE_NAME). */
export interface StartupKeysSchema {
  properties: typeof startupKeyProperties;
}

export type StartupKeys = Static<ReturnType<typeof startupKeysSchemaOf>>;

/** The start-up keys as the service defines them, so their defaults match the full load. */
function startupKeysSchemaOf({ properties }: StartupKeysSchema) {
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
 * Decodes the start-up keys from the local layers (the .env cascade, CONFIG_DIR and the environment, in the order
 * of the full load). The config centre and Vault come later, so these keys are restart-only and set locally.
 */
export async function readStartupKeys(
  serviceSchema: StartupKeysSchema,
  local: LocalLayers,
): Promise<StartupKeys> {
  return (await decodeLocal(startupKeysSchemaOf(serviceSchema), local)).values;
}
