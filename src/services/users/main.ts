import { ConfigError } from '../../platform/config/config-error.ts';
import { readBootstrap } from './bootstrap.ts';

/**
 * Entry point. The HTTP instrumentation patches node:http as Fastify loads it, so tracing has to start before
 * the service's modules are imported: the identity and tracing keys are read from the local layers, tracing is
 * started when an endpoint is set (the SDK is not loaded otherwise), and only then is the service loaded.
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
  const { runUsersService } = await import('./composition-root.ts');
  await runUsersService({ local, tracing });
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(
      `${JSON.stringify({ timestamp: new Date().toISOString(), level: 'ERROR', service: 'user-service', message: error.message, key: error.key })}\n`,
    );
  } else {
    process.stderr.write(
      `${JSON.stringify({ timestamp: new Date().toISOString(), level: 'ERROR', service: 'user-service', message: `start-up failed: ${(error as Error).message}`, stack: (error as Error).stack })}\n`,
    );
  }
  process.exit(1);
});
