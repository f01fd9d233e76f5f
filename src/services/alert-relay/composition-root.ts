import type { Static } from 'typebox';
import { describeConfig } from '../../platform/config/describe-config.ts';
import { openLiveConfig } from '../../platform/config/live-config.ts';
import { HealthRegistry } from '../../platform/health/health-registry.ts';
import { Lifecycle } from '../../platform/lifecycle/lifecycle.ts';
import { createLogger } from '../../platform/logging/logger.ts';
import type { Tracing } from '../../platform/tracing/tracing-hooks.ts';
import { buildRelayApp } from './app.ts';
import type { bootstrapSchema } from './bootstrap.ts';
import { relayConfigSchema } from './config.ts';
import { createRelayComponents } from './relay-components.ts';

/** In a pod the API server is announced by the kubelet's service environment variables. */
function inClusterApiUrl(): string {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) return 'https://kubernetes.default.svc';
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export interface Bootstrap {
  local: Static<typeof bootstrapSchema>;
  tracing: Tracing | undefined;
}

/** The relay's composition root: the only module with side effects. Everything it opens goes to the lifecycle. */
export async function runRelayService({ local, tracing }: Bootstrap): Promise<void> {
  const { logger, flush } = createLogger({
    service: local.SERVICE_NAME,
    version: local.APP_VERSION,
    canary: local.CANARY,
    level: local.LOG_LEVEL,
    ...(tracing ? { mixin: tracing.logFields } : {}),
  });
  const configStore = await openLiveConfig(relayConfigSchema, { directory: process.cwd(), logger });
  // Restart-only keys are read from this snapshot; the remediation settings through configStore.values.
  const config = configStore.values;
  logger.level = config.LOG_LEVEL;
  configStore.subscribe(['LOG_LEVEL'], (values) => {
    logger.level = values.LOG_LEVEL;
  });
  logger.info(
    { config: describeConfig(relayConfigSchema, config, configStore.origins) },
    'configuration loaded',
  );

  const lifecycle = new Lifecycle({
    logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    drainDelayMs: config.SHUTDOWN_DELAY_MS,
    flushLogs: flush,
  });
  lifecycle.installProcessHandlers();
  // Registered first, so it closes last: spans of the final calls are still exported.
  if (tracing) lifecycle.onShutdown('tracing', () => tracing.shutdown());
  lifecycle.onShutdown('configuration watch', () => configStore.close());
  const health = new HealthRegistry({ timeoutMs: config.READINESS_TIMEOUT_MS });
  lifecycle.onDrain(() => health.markDraining());

  const components = createRelayComponents({
    config,
    current: () => configStore.values,
    kubernetesUrl: config.KUBERNETES_API_URL ?? inClusterApiUrl(),
    logger,
  });
  if (config.REMEDIATION_MODE === 'dry-run')
    logger.warn('remediation is in dry-run mode: actions are logged, not done');
  const app = await buildRelayApp({
    logger,
    health,
    ...components,
    metrics: { service: config.SERVICE_NAME, version: config.APP_VERSION, canary: config.CANARY },
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
    ...(tracing ? { tracing: tracing.http } : {}),
  });
  lifecycle.onShutdown('http server', () => app.close());

  await app.listen({ host: config.HOST, port: config.PORT });
  configStore.watch(config.CONFIG_POLL_INTERVAL_MS);
  health.markStarted();
  const address = app.server.address();
  logger.info(
    {
      port: typeof address === 'object' && address ? address.port : config.PORT,
      remediation_mode: config.REMEDIATION_MODE,
      sms_provider: config.SMS_PROVIDER,
      wechat: config.WECHAT_WEBHOOK_KEY !== undefined,
      tracing: tracing ? 'on' : 'off',
      startup_ms: Math.round(performance.now()),
    },
    'ready to serve',
  );
}
