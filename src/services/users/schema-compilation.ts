import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { HealthRegistry } from '../../platform/health/health-registry.ts';
import { buildApp } from './app.ts';
import type { UsersService } from './users.service.ts';

/**
 * The users application with the routes and schemas production serves (docs off) and nothing behind them: the
 * build compiles its validators and serializers ahead of time from it (see platform/http/compiled-schemas.ts).
 * A route added only in production still works, compiled at start-up instead.
 */
export function appForSchemaCompilation(): Promise<FastifyInstance> {
  return buildApp({
    logger: pino({ enabled: false }),
    health: new HealthRegistry({ timeoutMs: 1_000 }),
    service: {} as UsersService,
    version: '0.0.0',
    metrics: new Registry(),
    bodyLimitBytes: 1_048_576,
    requestTimeoutMs: 10_000,
    docsEnabled: false,
    slowRequestMs: () => 1_000,
  });
}
