import type { Static } from 'typebox';
import { describeConfig } from '../../platform/config/describe-config.ts';
import { openLiveConfig } from '../../platform/config/live-config.ts';
import { HealthRegistry } from '../../platform/health/health-registry.ts';
import { faultsOn } from '../../platform/http/fault-injection.ts';
import { Lifecycle } from '../../platform/lifecycle/lifecycle.ts';
import { createLogger } from '../../platform/logging/logger.ts';
import { protectionPlugin } from '../../platform/resilience/protection.ts';
import type { Tracing } from '../../platform/tracing/tracing-hooks.ts';
import { buildApp } from './app.ts';
import type { bootstrapSchema } from './bootstrap.ts';
import { usersConfigSchema } from './config.ts';
import { riskAdmission } from './risk-admission.ts';
import { RISK_POLICY_KEYS, RiskClient, riskPolicySettings } from './risk-client.ts';
import { migrateUsers, openUsersStorage } from './storage.ts';
import { UsersService } from './users.service.ts';

/** What the entry point settled before loading this module: the local identity keys and tracing, if on. */
export interface Bootstrap {
  local: Static<typeof bootstrapSchema>;
  tracing: Tracing | undefined;
}

/** The composition root: the only module with side effects. Everything it opens, it hands to the lifecycle. */
export async function runUsersService({ local, tracing }: Bootstrap): Promise<void> {
  // The logger comes first so the config sources can report; its identity is read from the local layers.
  const { logger, flush } = createLogger({
    service: local.SERVICE_NAME,
    version: local.APP_VERSION,
    canary: local.CANARY,
    level: local.LOG_LEVEL,
    ...(tracing ? { mixin: tracing.logFields } : {}),
  });
  const configStore = await openLiveConfig(usersConfigSchema, { directory: process.cwd(), logger });
  // Restart-only keys are read from this start-up snapshot; reloadable ones through configStore.values.
  const config = configStore.values;
  logger.level = config.LOG_LEVEL;
  configStore.subscribe(['LOG_LEVEL'], (values) => {
    logger.level = values.LOG_LEVEL;
  });
  logger.info(
    { config: describeConfig(usersConfigSchema, config, configStore.origins) },
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
          endpoint: local.OTEL_EXPORTER_OTLP_ENDPOINT,
          sample_ratio: local.OTEL_TRACES_SAMPLER_ARG,
        }
      : { tracing: 'off' },
    tracing
      ? 'tracing: spans are exported over OTLP/HTTP'
      : 'tracing off (OTEL_EXPORTER_OTLP_ENDPOINT unset)',
  );
  lifecycle.onShutdown('configuration watch', () => configStore.close());
  const health = new HealthRegistry({ timeoutMs: config.READINESS_TIMEOUT_MS });
  lifecycle.onDrain(() => health.markDraining());

  const storage = await openUsersStorage(config, logger, {
    password: () => configStore.values.DATABASE_PASSWORD,
  });
  const { database } = storage;
  if (database) {
    lifecycle.onShutdown('database', () => database.close());
    health.addReadinessCheck({ name: 'database', check: () => database.ping() });
    if (config.MIGRATE_ON_START) await migrateUsers(database, logger);
  }

  const risk = config.RISK_SERVICE_URL
    ? new RiskClient({
        url: config.RISK_SERVICE_URL,
        token: config.RISK_SERVICE_TOKEN,
        logger,
        settings: riskPolicySettings(config),
      })
    : undefined;
  if (risk)
    configStore.subscribe([...RISK_POLICY_KEYS], (values) => risk.policy.update(riskPolicySettings(values)));
  const service = new UsersService({
    repository: storage.repository,
    idempotencyTtlMs: config.IDEMPOTENCY_TTL_HOURS * 3_600_000,
    ...(risk ? { admission: riskAdmission(risk, logger) } : {}),
  });
  if (faultsOn(config)) {
    logger.warn(
      {
        FAULT_SLOW_RATIO: config.FAULT_SLOW_RATIO,
        FAULT_SLOW_MS: config.FAULT_SLOW_MS,
        FAULT_ERROR_RATIO: config.FAULT_ERROR_RATIO,
      },
      'fault injection is ON: requests are deliberately slowed or failed (a test setting, never for production)',
    );
  }
  configStore.subscribe(['FAULT_SLOW_RATIO', 'FAULT_SLOW_MS', 'FAULT_ERROR_RATIO'], (values) => {
    if (faultsOn(values)) logger.warn('fault injection is ON after a configuration reload');
  });
  const app = await buildApp({
    logger,
    health,
    service,
    version: config.APP_VERSION,
    serviceName: config.SERVICE_NAME,
    canary: config.CANARY,
    faults: () => configStore.values,
    ...(tracing ? { tracing: tracing.http } : {}),
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
    docsEnabled: config.DOCS_ENABLED,
    slowRequestMs: () => configStore.values.SLOW_REQUEST_MS,
    maxHeaderBytes: config.HEADER_LIMIT_BYTES,
    plugins: [protectionPlugin(() => configStore.values)],
  });
  lifecycle.onShutdown('http server', () => {
    logger.info('stopped accepting connections; waiting for in-flight requests');
    return app.close();
  });

  await app.listen({ host: config.HOST, port: config.PORT });
  configStore.watch(config.CONFIG_POLL_INTERVAL_MS);
  health.markStarted();
  const address = app.server.address();
  logger.info(
    {
      port: typeof address === 'object' && address ? address.port : config.PORT,
      storage: database?.kind ?? 'memory',
      startup_ms: Math.round(performance.now()),
    },
    'ready to serve',
  );
}
