import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { HealthRegistry } from '../../src/platform/health/health-registry.ts';
import type { FaultSettings } from '../../src/platform/http/fault-injection.ts';
import { createLogger } from '../../src/platform/logging/logger.ts';
import { createMetricsRegistry } from '../../src/platform/metrics/metrics-registry.ts';
import { buildApp } from '../../src/services/users/app.ts';
import { migrateUsers, openUsersStorage } from '../../src/services/users/storage.ts';
import { UsersService } from '../../src/services/users/users.service.ts';
import { LogCapture } from './log-capture.ts';

export interface TestApp {
  app: FastifyInstance;
  url: string;
  logs: LogCapture;
  health: HealthRegistry;
  /** This app's own registry, as GET /metrics serves it. */
  metrics: Registry;
  close(): Promise<void>;
}

/** The users app listening on a loopback port, with its log lines captured and its own metrics registry, over the given storage. */
export async function startTestApp(
  databaseUrl: string,
  overrides: { slowRequestMs?: number; canary?: boolean; faults?: () => FaultSettings } = {},
): Promise<TestApp> {
  const logs = new LogCapture();
  const { logger } = createLogger({
    service: 'user-service',
    version: 'test',
    level: 'debug',
    destination: logs,
  });
  const metrics = createMetricsRegistry({
    service: 'user-service',
    version: 'test',
    canary: overrides.canary === true,
  });
  const storage = await openUsersStorage(
    {
      DATABASE_URL: databaseUrl,
      DB_POOL_MAX: 5,
      DB_PREPARED_STATEMENTS: true,
      DB_CONNECT_TIMEOUT_MS: 2_000,
      DB_STATEMENT_TIMEOUT_MS: 5_000,
      SERVICE_NAME: 'user-service',
    },
    logger,
    { metrics },
  );
  const health = new HealthRegistry({ timeoutMs: 1_000 });
  const { database } = storage;
  if (database) {
    await migrateUsers(database, logger);
    health.addReadinessCheck({ name: 'database', check: () => database.ping() });
  }
  const service = new UsersService({ repository: storage.repository, idempotencyTtlMs: 3_600_000 });
  const app = await buildApp({
    logger,
    health,
    service,
    version: 'test',
    metrics,
    bodyLimitBytes: 16_384,
    requestTimeoutMs: 10_000,
    docsEnabled: true,
    slowRequestMs: () => overrides.slowRequestMs ?? 1_000,
    ...(overrides.canary !== undefined ? { canary: () => overrides.canary === true } : {}),
    ...(overrides.faults ? { faults: overrides.faults } : {}),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  health.markStarted();
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    logs,
    health,
    metrics,
    async close() {
      await app.close();
      await database?.close();
    },
  };
}
