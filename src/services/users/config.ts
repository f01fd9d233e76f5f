import { Type } from 'typebox';
import { liveConfigProperties } from '../../platform/config/live-config-schema.ts';
import { platformConfigProperties } from '../../platform/config/platform-config-schema.ts';
import { faultInjectionConfigProperties } from '../../platform/http/fault-injection.ts';
import { requestLogConfigProperties } from '../../platform/http/request-log-policy.ts';
import { protectionConfigProperties } from '../../platform/resilience/protection.ts';
import { tracingConfigProperties } from '../../platform/tracing/tracing-config.ts';
import { riskConfigProperties } from './risk-client.ts';

export const usersConfigSchema = Type.Object({
  ...platformConfigProperties,
  ...liveConfigProperties,
  ...requestLogConfigProperties,
  ...protectionConfigProperties,
  ...riskConfigProperties,
  ...faultInjectionConfigProperties,
  ...tracingConfigProperties,
  SERVICE_NAME: Type.String({
    minLength: 1,
    default: 'user-service',
    description: 'Service name in logs and metrics.',
  }),
  DATABASE_URL: Type.String({
    default: 'pglite://./.data/pglite',
    pattern: '^(postgres(ql)?|pglite|memory)://',
    description:
      '`postgres://user:pass@host:5432/db` for PostgreSQL; `pglite://DIR` or `pglite://memory` for the embedded database; `memory://` for the in-memory repository (benchmarks).',
  }),
  DATABASE_PASSWORD: Type.Optional(
    Type.String({
      secret: true,
      reloadable: true,
      description:
        'Overrides the password in DATABASE_URL; usually given as DATABASE_PASSWORD_FILE or from Vault. Reloadable: new pool connections use the rotated value.',
    }),
  ),
  DB_POOL_MAX: Type.Integer({
    minimum: 1,
    maximum: 200,
    default: 10,
    description: 'Largest PostgreSQL pool size.',
  }),
  DB_PREPARED_STATEMENTS: Type.Boolean({
    default: true,
    description:
      'Send reads (SELECT) with parameters as named prepared statements, parsed and planned once per connection (GET /users/{id} on PostgreSQL: about a quarter more requests a second, docs/performance.md). Turn off behind a pooler that does not keep prepared statements per client connection (PgBouncer in transaction mode before 1.21).',
  }),
  DB_CONNECT_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 2_000,
    description: 'Bound on opening a connection.',
  }),
  DB_STATEMENT_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 5_000,
    description: 'PostgreSQL statement_timeout.',
  }),
  MIGRATE_ON_START: Type.Boolean({ default: true, description: 'Apply pending migrations before serving.' }),
  DOCS_ENABLED: Type.Boolean({
    default: true,
    description: 'Serve OpenAPI at /openapi.json and Swagger UI at /docs.',
  }),
  IDEMPOTENCY_TTL_HOURS: Type.Integer({
    minimum: 1,
    default: 24,
    description: 'How long an Idempotency-Key is remembered.',
  }),
});
