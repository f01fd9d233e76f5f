import { ConfigError } from '../../platform/config/config-error.ts';
import { readBootstrap } from './bootstrap.ts';

/**
 * Entry point. Tracing (when OTEL_EXPORTER_OTLP_ENDPOINT is set) starts before the relay's modules load, because
 * the HTTP instrumentation patches node:http as Fastify loads it; outgoing calls to WeChat Work, the SMS gateway
 * and the API server are traced through fetch.
 */
async function main(): Promise<void> {
  const local = await readBootstrap();
  const endpoint = local.OTEL_EXPORTER_OTLP_ENDPOINT;
  const tracing = endpoint
    ? (await import('../../platform/tracing/start-tracing.ts')).startTracing({
        endpoint,
        sampleRatio: local.OTEL_TRACES_SAMPLER_ARG,
        service: local.SERVICE_NAME,
        version: local.APP_VERSION,
        canary: local.CANARY,
      })
    : undefined;
  const { runRelayService } = await import('./composition-root.ts');
  await runRelayService({ local, tracing });
}

main().catch((error: unknown) => {
  const fields =
    error instanceof ConfigError
      ? { message: error.message, key: error.key }
      : { message: `start-up failed: ${(error as Error).message}`, stack: (error as Error).stack };
  process.stderr.write(
    `${JSON.stringify({ timestamp: new Date().toISOString(), level: 'ERROR', service: 'alert-relay', ...fields })}\n`,
  );
  process.exit(1);
});
