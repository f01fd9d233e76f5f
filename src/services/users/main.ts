import { ConfigError } from '../../platform/config/config-error.ts';
import { readBootstrap } from './bootstrap.ts';

/**
 * Entry point. Tracing starts before the service's modules are imported, so anything they set up already sees
 * the tracer provider; the SDK is only imported when an endpoint is set. The identity and tracing keys come from
 * the local layers, then the composition root is loaded.
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
