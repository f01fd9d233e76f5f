import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { HealthRegistry } from '../../platform/health/health-registry.ts';
import { createHttpServer } from '../../platform/http/create-http-server.ts';
import type { HttpTracing } from '../../platform/tracing/tracing-hooks.ts';
import type { MttrTracker } from './mttr.ts';
import type { NotificationDispatcher } from './notification-dispatcher.ts';
import { relayRoutes } from './relay.routes.ts';
import type { Remediator } from './remediation/remediator.ts';

export interface RelayAppDependencies {
  logger: Logger;
  health: HealthRegistry;
  webhookToken: string;
  dispatcher: NotificationDispatcher;
  remediator: Remediator;
  mttr: MttrTracker;
  /** Alertmanager groups up to `max_alerts` alerts per POST; 1 MiB holds about a thousand. */
  bodyLimitBytes?: number;
  requestTimeoutMs?: number;
  /** The relay's registry, served at GET /metrics (HTTP RED, runtime, the relay's own counters). */
  metrics: Registry;
  /** This instance is a canary (the HTTP metrics' `canary` label), read per request. */
  canary?: () => boolean;
  /** When tracing runs: request ids are trace ids and server spans are named after the route. */
  tracing?: HttpTracing;
  /** Platform plugins registered before the routes, in order. */
  plugins?: ((app: FastifyInstance) => Promise<void> | void)[];
}

/** The relay's HTTP application without a listening socket. */
export async function buildRelayApp(deps: RelayAppDependencies): Promise<FastifyInstance> {
  const app = await createHttpServer({
    logger: deps.logger,
    health: deps.health,
    bodyLimitBytes: deps.bodyLimitBytes ?? 1_048_576,
    requestTimeoutMs: deps.requestTimeoutMs ?? 30_000,
    slowRequestMs: () => 5_000,
    metrics: deps.metrics,
    ...(deps.canary ? { canary: deps.canary } : {}),
    ...(deps.tracing ? { tracing: deps.tracing } : {}),
  });
  for (const plugin of deps.plugins ?? []) await plugin(app);
  await app.withTypeProvider<TypeBoxTypeProvider>().register(relayRoutes, {
    webhookToken: deps.webhookToken,
    dispatcher: deps.dispatcher,
    remediator: deps.remediator,
    mttr: deps.mttr,
  });
  return app;
}
