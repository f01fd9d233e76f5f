import { randomUUID } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-node';
import type { ContenderUser as User } from '../lib/contender-user.ts';

/**
 * The assembly a team would build from the usual parts: Fastify with its request logging (pino to stdout),
 * prom-client default metrics and an HTTP duration histogram, and the OpenTelemetry tracer with the http
 * instrumentation exporting OTLP/HTTP, sampled parent-based at OTEL_TRACES_SAMPLER_ARG. The routes are the raw
 * node:http contender's, over an in-memory Map.
 */
const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
if (endpoint) {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'ecosystem' }),
    sampler: new ParentBasedSampler({
      root: new TraceIdRatioBasedSampler(Number(process.env.OTEL_TRACES_SAMPLER_ARG ?? 1)),
    }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }))],
  });
  provider.register();
  registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });
  trace.getTracer('ecosystem');
}
// Loaded after the instrumentation is registered, so the http module fastify requires is the patched one.
const { default: Fastify } = await import('fastify');
const { default: client } = await import('prom-client');

const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });
const duration = new client.Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP request duration',
  labelNames: ['method', 'route', 'status_code'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

const users = new Map<string, User>();
const emails = new Set<string>();
const app = Fastify({ logger: { level: 'info' } });

app.addHook('onResponse', async (request, reply) => {
  duration.observe(
    {
      method: request.method,
      route: request.routeOptions.url ?? 'unknown',
      status_code: String(reply.statusCode),
    },
    reply.elapsedTime / 1000,
  );
});

const notFound = { type: 'about:blank', title: 'Not Found', status: 404 };

app.get<{ Params: { id: string } }>('/users/:id', async (request, reply) => {
  const user = users.get(request.params.id);
  if (!user) return reply.code(404).type('application/problem+json').send(notFound);
  return user;
});

app.get<{ Querystring: { limit?: number } }>(
  '/users',
  {
    schema: {
      querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 100 } } },
    },
  },
  async (request) => {
    const limit = request.query.limit ?? 20;
    const items: User[] = [];
    for (const user of users.values()) {
      if (items.length === limit) break;
      items.push(user);
    }
    const more = items.length === limit && users.size > limit;
    return { items, next_cursor: more ? items.at(-1)?.id : null };
  },
);

app.post<{ Body: { name: string; email: string } }>(
  '/users',
  {
    schema: {
      body: {
        type: 'object',
        required: ['name', 'email'],
        properties: { name: { type: 'string', minLength: 1 }, email: { type: 'string', pattern: '@' } },
      },
    },
  },
  async (request, reply) => {
    const { name, email } = request.body;
    const key = email.toLowerCase();
    if (emails.has(key))
      return reply
        .code(409)
        .type('application/problem+json')
        .send({ type: 'about:blank', title: 'Conflict', status: 409 });
    const now = new Date().toISOString();
    const user: User = { id: randomUUID(), name, email, status: 'active', created_at: now, updated_at: now };
    users.set(user.id, user);
    emails.add(key);
    return reply.code(201).header('location', `/users/${user.id}`).send(user);
  },
);

app.get('/readyz', async () => ({ status: 'ok' }));
app.get('/metrics', async (_request, reply) =>
  reply.type(registry.contentType).send(await registry.metrics()),
);

await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
