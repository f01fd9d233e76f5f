import { ConfigError } from '../config/config-error.ts';
import { type LocalLayers, readLocalLayers } from '../config/local-layers.ts';
import type { Tracing } from '../tracing/tracing-hooks.ts';
import { pinTickObjectShape } from './pin-tick-object-shape.ts';
import { readStartupKeys, type StartupKeys, type StartupKeysSchema } from './startup-keys.ts';

/** What the entry point settled before the service's modules load: the start-up keys and tracing, if on. */
export interface ServiceStart {
  startup: StartupKeys;
  /** The local configuration layers as read here; the live configuration starts from them. */
  layers: LocalLayers;
  tracing: Tracing | undefined;
}

export interface StartServiceOptions {
  /** The `service` field of the start-up failure line, written before any logger exists. */
  name: string;
  /** The service's configuration schema; only its start-up keys are read here. */
  schema: StartupKeysSchema;
  /**
   * Loads the composition root and runs it. It has to be a dynamic import written in the service's own entry
   * point: the bundler follows it there, and nothing it imports is evaluated before tracing has started.
   */
  run: (start: ServiceStart) => Promise<void>;
}

/**
 * The body of every service's entry point. Tracing starts before the service's modules are imported, so anything
 * they set up (database pools, HTTP clients, the server) already sees the registered tracer provider and context
 * manager; the SDK itself is only imported when an endpoint is set. A failed start-up is one JSON line on stderr and exit 1.
 * First of all it pins nextTick's queue-entry shape, before any full collection can free it (pin-tick-object-shape.ts).
 */
export function startService({ name, schema, run }: StartServiceOptions): void {
  pinTickObjectShape();
  const start = async () => {
    const layers = await readLocalLayers({ directory: process.cwd() });
    const startup = await readStartupKeys(schema, layers);
    const endpoint = startup.OTEL_EXPORTER_OTLP_ENDPOINT;
    const tracing = endpoint
      ? (await import('../tracing/start-tracing.ts')).startTracing({
          endpoint,
          sampleRatio: startup.OTEL_TRACES_SAMPLER_ARG,
          service: startup.SERVICE_NAME,
          version: startup.APP_VERSION,
          canary: startup.CANARY,
        })
      : undefined;
    await run({ startup, layers, tracing });
  };
  start().catch((error: unknown) => {
    const fields =
      error instanceof ConfigError
        ? { message: error.message, key: error.key }
        : { message: `start-up failed: ${(error as Error).message}`, stack: (error as Error).stack };
    process.stderr.write(
      `${JSON.stringify({ timestamp: new Date().toISOString(), level: 'ERROR', service: name, ...fields })}\n`,
    );
    process.exit(1);
  });
}
