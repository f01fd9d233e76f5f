import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { type TObject, Type } from 'typebox';
import type { ConfigStore } from '../config/config-store.ts';
import { describeConfig } from '../config/describe-config.ts';
import { openLiveConfig } from '../config/live-config.ts';
import { liveConfigProperties } from '../config/live-config-schema.ts';
import { platformConfigProperties } from '../config/platform-config-schema.ts';
import { HealthRegistry } from '../health/health-registry.ts';
import { type AcceptListeners, openAcceptListeners, REUSE_PORT_SUPPORTED } from '../http/accept-listeners.ts';
import { type WarmUpPaths, warmUp } from '../http/warm-up.ts';
import { Lifecycle } from '../lifecycle/lifecycle.ts';
import { createLogger } from '../logging/logger.ts';
import { createMetricsRegistry } from '../metrics/metrics-registry.ts';
import type { Tracing } from '../tracing/tracing-hooks.ts';
import type { ServiceStart } from './start-service.ts';

/** The keys this module reads itself; every service schema carries them. */
const runSchema = Type.Object({
  HOST: platformConfigProperties.HOST,
  PORT: platformConfigProperties.PORT,
  LOG_LEVEL: platformConfigProperties.LOG_LEVEL,
  SHUTDOWN_TIMEOUT_MS: platformConfigProperties.SHUTDOWN_TIMEOUT_MS,
  SHUTDOWN_DELAY_MS: platformConfigProperties.SHUTDOWN_DELAY_MS,
  READINESS_TIMEOUT_MS: platformConfigProperties.READINESS_TIMEOUT_MS,
  WARM_UP_REQUESTS: platformConfigProperties.WARM_UP_REQUESTS,
  WARM_UP_MAX_MS: platformConfigProperties.WARM_UP_MAX_MS,
  ACCEPT_LISTENERS: platformConfigProperties.ACCEPT_LISTENERS,
  CONFIG_POLL_INTERVAL_MS: liveConfigProperties.CONFIG_POLL_INTERVAL_MS,
});

/** What every service gets before it builds its own parts. */
export interface ServiceRuntime<S extends TObject> {
  logger: Logger;
  configStore: ConfigStore<S>;
  /** The start-up snapshot: restart-only keys are read here, reloadable ones through configStore.values. */
  config: ConfigStore<S>['values'];
  /** Whatever the service opens, it hands its closer to the lifecycle right away. */
  lifecycle: Lifecycle;
  health: HealthRegistry;
  /** The service's one metrics registry: whatever registers a metric gets it, and GET /metrics serves it. */
  metrics: Registry;
  tracing: Tracing | undefined;
}

/** The service's own part: its HTTP application (not yet listening) and the extra fields of its ready line. */
export interface ComposedService {
  app: FastifyInstance;
  ready: Record<string, unknown>;
  /** The read-only requests the start-up warm-up cycles through (WARM_UP_REQUESTS); none when not given. */
  warmUp?: WarmUpPaths;
}

/**
 * The platform part of every composition root: logger, live configuration, lifecycle, tracing's shutdown and
 * health come first; the service composes its modules and routes on them; then the server listens, the
 * configuration is watched and readiness can pass.
 */
export async function runService<S extends TObject>(
  { startup, layers, tracing }: ServiceStart,
  schema: S & { properties: (typeof runSchema)['properties'] },
  compose: (runtime: ServiceRuntime<S>) => Promise<ComposedService>,
): Promise<void> {
  // The logger comes first so the config sources can report; its identity is read from the local layers.
  const { logger, flush } = createLogger({
    service: startup.SERVICE_NAME,
    version: startup.APP_VERSION,
    canary: startup.CANARY,
    level: startup.LOG_LEVEL,
    ...(tracing ? { mixin: tracing.logFields } : {}),
  });
  const metrics = createMetricsRegistry({
    service: startup.SERVICE_NAME,
    version: startup.APP_VERSION,
    canary: startup.CANARY,
  });
  const configStore = await openLiveConfig(schema, { local: layers, logger, metrics });
  // The schema carries the platform keys (see its type), so the store can be read through them.
  const platform = configStore as unknown as ConfigStore<typeof runSchema>;
  const config = platform.values;
  logger.level = config.LOG_LEVEL;
  platform.subscribe(['LOG_LEVEL'], (values) => {
    logger.level = values.LOG_LEVEL;
  });
  logger.info(
    { config: describeConfig(schema, configStore.values, configStore.origins) },
    'configuration loaded',
  );

  const lifecycle = new Lifecycle({
    logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    drainDelayMs: config.SHUTDOWN_DELAY_MS,
    flushLogs: flush,
  });
  lifecycle.installProcessHandlers();
  // Registered first, so it closes last: spans of the final requests are still exported.
  if (tracing) {
    tracing.reportProblemsTo(logger);
    lifecycle.onShutdown('tracing', () => tracing.shutdown());
  }
  logger.info(
    tracing
      ? {
          tracing: 'on',
          endpoint: startup.OTEL_EXPORTER_OTLP_ENDPOINT,
          sample_ratio: startup.OTEL_TRACES_SAMPLER_ARG,
        }
      : { tracing: 'off' },
    tracing
      ? 'tracing: spans are exported over OTLP/HTTP'
      : 'tracing off (OTEL_EXPORTER_OTLP_ENDPOINT unset)',
  );
  lifecycle.onShutdown('configuration watch', () => configStore.close());
  const health = new HealthRegistry({ timeoutMs: config.READINESS_TIMEOUT_MS });
  lifecycle.onDrain(() => health.markDraining());

  const {
    app,
    ready,
    warmUp: warmUpPaths,
  } = await compose({
    logger,
    configStore,
    config: configStore.values,
    lifecycle,
    health,
    metrics,
    tracing,
  });
  let acceptListeners: AcceptListeners | undefined;
  lifecycle.onShutdown('http server', async () => {
    logger.info('stopped accepting connections; waiting for in-flight requests');
    await app.close();
    await acceptListeners?.drained();
  });

  const listeners = REUSE_PORT_SUPPORTED ? config.ACCEPT_LISTENERS : 1;
  await app.listen({ host: config.HOST, port: config.PORT, ...(listeners > 1 ? { reusePort: true } : {}) });
  acceptListeners = await openAcceptListeners(app.server, listeners);
  // Registered after the HTTP server, so it runs before it: no socket accepts while the server drains.
  lifecycle.onShutdown('extra listening sockets', async () => acceptListeners?.stopAccepting());
  const address = app.server.address() as AddressInfo;
  // Loaded while nothing but probes can reach the server: under a fifth of a CPU, a first export or a first
  // outgoing call paying for these loads would stall the requests around it.
  await tracing?.prepareForRequests().catch((error: unknown) => {
    logger.warn({ err: error }, 'tracing: outgoing calls are not traced (instrumentation failed to load)');
  });
  const warmed =
    warmUpPaths && config.WARM_UP_REQUESTS > 0
      ? await warmUp(address, warmUpPaths, {
          requests: config.WARM_UP_REQUESTS,
          maxMs: config.WARM_UP_MAX_MS,
        })
      : undefined;
  if (warmed?.stoppedBy !== undefined)
    logger.warn({ warm_up: warmed }, `warm-up stopped early (${warmed.stoppedBy}); serving anyway`);
  configStore.watch(config.CONFIG_POLL_INTERVAL_MS);
  health.markStarted();
  logger.info(
    {
      port: address.port,
      listening_sockets: acceptListeners.count,
      ...ready,
      ...(warmed ? { warm_up_requests: warmed.requests, warm_up_ms: warmed.ms } : {}),
      startup_ms: Math.round(performance.now()),
    },
    'ready to serve',
  );
  // Whoever watches the pod start (an operator tailing logs, a rollout script) sees the line when the probe
  // says ready, not up to a flush interval later.
  flush();
}
