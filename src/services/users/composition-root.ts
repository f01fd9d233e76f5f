import { faultsOn } from '../../platform/http/fault-injection.ts';
import { protectionPlugin } from '../../platform/resilience/protection.ts';
import { runService } from '../../platform/service/run-service.ts';
import type { ServiceStart } from '../../platform/service/start-service.ts';
import { buildApp } from './app.ts';
import { usersConfigSchema } from './config.ts';
import { riskAdmission } from './risk-admission.ts';
import { RISK_POLICY_KEYS, RiskClient, riskPolicySettings } from './risk-client.ts';
import { migrateUsers, openUsersStorage } from './storage.ts';
import { UsersService } from './users.service.ts';
import { usersWarmUpPaths } from './warm-up-paths.ts';

/** The composition root: the only module with side effects. Everything it opens, it hands to the lifecycle. */
export function runUsersService(start: ServiceStart): Promise<void> {
  return runService(
    start,
    usersConfigSchema,
    async ({ logger, configStore, config, lifecycle, health, metrics, tracing }) => {
      const storage = await openUsersStorage(config, logger, {
        metrics,
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
            metrics,
            settings: riskPolicySettings(config),
          })
        : undefined;
      if (risk)
        configStore.subscribe([...RISK_POLICY_KEYS], (values) =>
          risk.policy.update(riskPolicySettings(values)),
        );
      const service = new UsersService({
        repository: storage.repository,
        idempotencyTtlMs: config.IDEMPOTENCY_TTL_HOURS * 3_600_000,
        ...(risk ? { admission: riskAdmission(risk, logger, metrics) } : {}),
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
        metrics,
        canary: () => configStore.values.CANARY,
        faults: () => configStore.values,
        ...(tracing ? { tracing: tracing.http } : {}),
        bodyLimitBytes: config.BODY_LIMIT_BYTES,
        requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
        docsEnabled: config.DOCS_ENABLED,
        slowRequestMs: () => configStore.values.SLOW_REQUEST_MS,
        requestLog: () => configStore.values,
        maxHeaderBytes: config.HEADER_LIMIT_BYTES,
        plugins: [protectionPlugin(() => configStore.values, metrics)],
      });
      return { app, ready: { storage: database?.kind ?? 'memory' }, warmUp: usersWarmUpPaths };
    },
  );
}
