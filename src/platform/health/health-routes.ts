import type { FastifyInstance } from 'fastify';
import type { HealthRegistry } from './health-registry.ts';

export const HEALTH_PATHS = { liveness: '/healthz', readiness: '/readyz', startup: '/startupz' } as const;

/** Probe endpoints; hidden from the OpenAPI document and answered without request logging noise. */
export async function registerHealthRoutes(app: FastifyInstance, registry: HealthRegistry): Promise<void> {
  const config = { probe: true };
  app.get(HEALTH_PATHS.liveness, { schema: { hide: true }, config }, async () => ({ status: 'pass' }));

  app.get(HEALTH_PATHS.startup, { schema: { hide: true }, config }, async (_request, reply) => {
    if (registry.started) return { status: 'pass' };
    return reply.code(503).send({ status: 'fail', checks: { startup: { status: 'fail' } } });
  });

  app.get(HEALTH_PATHS.readiness, { schema: { hide: true }, config }, async (_request, reply) => {
    const report = await registry.readiness();
    return reply.code(report.status === 'pass' ? 200 : 503).send(report);
  });
}
