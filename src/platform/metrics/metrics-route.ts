import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { METRICS_CONTENT_TYPE } from './metrics-registry.ts';

/**
 * GET /metrics: the service's registry in the Prometheus text format. Marked as a probe: scrapes are not logged,
 * not counted in the HTTP metrics, not rate limited and not shed under load (a scrape is when an overload most
 * needs to be seen).
 */
export function registerMetricsRoute(app: FastifyInstance, registry: Registry): void {
  app.get('/metrics', { config: { probe: true }, schema: { hide: true } }, async (_request, reply) => {
    reply.type(METRICS_CONTENT_TYPE);
    return registry.metrics();
  });
}
