import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ErrorObserver } from '../../platform/errors/problem-details.ts';
import type { HealthRegistry } from '../../platform/health/health-registry.ts';
import { createHttpServer } from '../../platform/http/create-http-server.ts';
import type { FaultSettings } from '../../platform/http/fault-injection.ts';
import type { RequestLogSettings } from '../../platform/http/request-log-policy.ts';
import type { HttpTracing } from '../../platform/tracing/tracing-hooks.ts';
import { usersRoutes } from './users.routes.ts';
import { Problem, UserSchema } from './users.schemas.ts';
import type { UsersService } from './users.service.ts';

export interface AppDependencies {
  logger: Logger;
  health: HealthRegistry;
  service: UsersService;
  version: string;
  /** The service's registry, served at GET /metrics; the HTTP and error metrics join it. */
  metrics: Registry;
  /** This instance is a canary (the `canary` label of the metrics), read per request so a promotion shows at once. */
  canary?: () => boolean;
  /** Fault injection for monitoring tests (FAULT_* keys), read per request. */
  faults?: () => FaultSettings;
  /** Set when tracing runs: request ids and log lines follow the server span. */
  tracing?: HttpTracing;
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  docsEnabled: boolean;
  slowRequestMs: () => number;
  /** The REQUEST_LOG policy, read per request; every request is logged when not given. */
  requestLog?: () => RequestLogSettings;
  /** Largest total size of request headers (Node's default is 16 KiB); larger requests get 431. */
  maxHeaderBytes?: number;
  onError?: ErrorObserver;
  /** Platform plugins (metrics, tracing, protection) registered before the routes, in order. */
  plugins?: ((app: FastifyInstance) => Promise<void> | void)[];
}

/** The HTTP application without a listening socket: tests drive it with inject() or listen on port 0. */
export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const app = await createHttpServer({
    logger: deps.logger,
    health: deps.health,
    bodyLimitBytes: deps.bodyLimitBytes,
    requestTimeoutMs: deps.requestTimeoutMs,
    slowRequestMs: deps.slowRequestMs,
    ...(deps.requestLog ? { requestLog: deps.requestLog } : {}),
    metrics: deps.metrics,
    ...(deps.canary ? { canary: deps.canary } : {}),
    ...(deps.faults ? { faults: deps.faults } : {}),
    ...(deps.tracing ? { tracing: deps.tracing } : {}),
    ...(deps.maxHeaderBytes ? { maxHeaderBytes: deps.maxHeaderBytes } : {}),
    ...(deps.onError ? { onError: deps.onError } : {}),
  });
  for (const plugin of deps.plugins ?? []) await plugin(app);
  app.addSchema(Problem);
  app.addSchema(UserSchema);

  if (deps.docsEnabled) {
    // Loaded only when served: with docs off (production) start-up neither loads nor compiles them.
    const [{ default: swagger }, { default: swaggerUi }] = await Promise.all([
      import('@fastify/swagger'),
      import('@fastify/swagger-ui'),
    ]);
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'user-service',
          version: deps.version,
          description: 'Users REST API. Errors are RFC 9457 problem+json documents.',
        },
        tags: [{ name: 'users' }],
      },
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  }

  await app.withTypeProvider<TypeBoxTypeProvider>().register(usersRoutes, { service: deps.service });
  return app;
}
