import { Type } from 'typebox';
import { ConfigError } from '../../platform/config/config-error.ts';
import { describeConfig } from '../../platform/config/describe-config.ts';
import { dotenvCascadeSource } from '../../platform/config/dotenv-cascade-source.ts';
import { environmentSource } from '../../platform/config/environment-source.ts';
import { openLiveConfig } from '../../platform/config/live-config.ts';
import { loadConfig } from '../../platform/config/load-config.ts';
import { HealthRegistry } from '../../platform/health/health-registry.ts';
import { Lifecycle } from '../../platform/lifecycle/lifecycle.ts';
import { createLogger } from '../../platform/logging/logger.ts';
import { buildRelayApp } from './app.ts';
import { relayConfigSchema } from './config.ts';
import { createRelayComponents } from './relay-components.ts';

/** In a pod the API server is announced by the kubelet's service environment variables. */
function inClusterApiUrl(): string {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) return 'https://kubernetes.default.svc';
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The relay's composition root: the only module with side effects. */
async function main(): Promise<void> {
  const { properties } = relayConfigSchema;
  const local = await loadConfig(
    Type.Object({
      SERVICE_NAME: properties.SERVICE_NAME,
      APP_VERSION: properties.APP_VERSION,
      LOG_LEVEL: properties.LOG_LEVEL,
    }),
    [dotenvCascadeSource({ directory: process.cwd(), nodeEnv: process.env.NODE_ENV }), environmentSource()],
  );
  const { logger, flush } = createLogger({
    service: local.values.SERVICE_NAME,
    version: local.values.APP_VERSION,
    level: local.values.LOG_LEVEL,
  });
  const configStore = await openLiveConfig(relayConfigSchema, { directory: process.cwd(), logger });
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
      startup_ms: Math.round(performance.now()),
    },
    'ready to serve',
  );
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
