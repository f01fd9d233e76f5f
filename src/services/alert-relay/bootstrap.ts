import { Type } from 'typebox';
import { dotenvCascadeSource } from '../../platform/config/dotenv-cascade-source.ts';
import { environmentSource } from '../../platform/config/environment-source.ts';
import { filesDirectorySource } from '../../platform/config/files-directory-source.ts';
import { liveConfigProperties } from '../../platform/config/live-config.ts';
import { loadConfig } from '../../platform/config/load-config.ts';
import { relayConfigSchema } from './config.ts';

const { properties } = relayConfigSchema;

/** The keys needed before anything else loads: the logger's identity and tracing. */
export const bootstrapSchema = Type.Object({
  SERVICE_NAME: properties.SERVICE_NAME,
  APP_VERSION: properties.APP_VERSION,
  CANARY: properties.CANARY,
  LOG_LEVEL: properties.LOG_LEVEL,
  OTEL_EXPORTER_OTLP_ENDPOINT: properties.OTEL_EXPORTER_OTLP_ENDPOINT,
  OTEL_TRACES_SAMPLER_ARG: properties.OTEL_TRACES_SAMPLER_ARG,
  CONFIG_DIR: liveConfigProperties.CONFIG_DIR,
});

/** Reads the bootstrap keys from the local layers (.env cascade, CONFIG_DIR, environment), in load order. */
export async function readBootstrap() {
  const dotenv = dotenvCascadeSource({ directory: process.cwd(), nodeEnv: process.env.NODE_ENV });
  const environment = environmentSource();
  const first = await loadConfig(bootstrapSchema, [dotenv, environment]);
  if (first.values.CONFIG_DIR === undefined) return first.values;
  return (
    await loadConfig(bootstrapSchema, [dotenv, filesDirectorySource(first.values.CONFIG_DIR), environment])
  ).values;
}
