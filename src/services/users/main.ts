import { ConfigError } from '../../platform/config/config-error.ts';
import { describeConfig } from '../../platform/config/describe-config.ts';
import { dotenvCascadeSource } from '../../platform/config/dotenv-cascade-source.ts';
import { environmentSource } from '../../platform/config/environment-source.ts';
import { loadConfig } from '../../platform/config/load-config.ts';
import { HealthRegistry } from '../../platform/health/health-registry.ts';
import { Lifecycle } from '../../platform/lifecycle/lifecycle.ts';
import { createLogger } from '../../platform/logging/logger.ts';
import { buildApp } from './app.ts';
import { usersConfigSchema } from './config.ts';
import { migrateUsers, openUsersStorage } from './storage.ts';
import { UsersService } from './users.service.ts';

/** The composition root: the only module with side effects. Everything it opens, it hands to the lifecycle. */
async function main(): Promise<void> {
  const loaded = await loadConfig(usersConfigSchema, [
    dotenvCascadeSource({ directory: process.cwd(), nodeEnv: process.env.NODE_ENV }),
    environmentSource(),
  ]);
  const config = loaded.values;
  const { logger, flush } = createLogger({
    service: config.SERVICE_NAME,
    version: config.APP_VERSION,
    level: config.LOG_LEVEL,
  });
  logger.info({ config: describeConfig(usersConfigSchema, config, loaded.origins) }, 'configuration loaded');

  const lifecycle = new Lifecycle({
    logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    drainDelayMs: config.SHUTDOWN_DELAY_MS,
    flushLogs: flush,
  });
  lifecycle.installProcessHandlers();
  const health = new HealthRegistry({ timeoutMs: config.READINESS_TIMEOUT_MS });
  lifecycle.onDrain(() => health.markDraining());

  const storage = await openUsersStorage(config, logger);
  const { database } = storage;
  if (database) {
    lifecycle.onShutdown('database', () => database.close());
    health.addReadinessCheck({ name: 'database', check: () => database.ping() });
    if (config.MIGRATE_ON_START) await migrateUsers(database, logger);
  }

  const service = new UsersService({
    repository: storage.repository,
    idempotencyTtlMs: config.IDEMPOTENCY_TTL_HOURS * 3_600_000,
  });
  const app = await buildApp({
    logger,
    health,
    service,
    version: config.APP_VERSION,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
    docsEnabled: config.DOCS_ENABLED,
    slowRequestMs: () => config.SLOW_REQUEST_MS,
  });
  lifecycle.onShutdown('http server', () => {
    logger.info('stopped accepting connections; waiting for in-flight requests');
    return app.close();
  });

  await app.listen({ host: config.HOST, port: config.PORT });
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
