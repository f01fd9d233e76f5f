import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import type { ContenderUser as User } from '../lib/contender-user.ts';

/**
 * The framework floor: Fastify with nothing added (no logging, metrics, tracing, hooks or plugins), the user routes
 * over an in-memory Map with the service's response shape serialised from a schema. What the service costs above
 * it is the platform's per-request work; what it costs above raw node:http is Fastify's. PORT and HOST from the
 * environment.
 */
const USER_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    email: { type: 'string' },
    status: { type: 'string' },
    created_at: { type: 'string' },
    updated_at: { type: 'string' },
  },
} as const;

const users = new Map<string, User>();
const app = Fastify({ logger: false });

app.post<{ Body: { name?: unknown; email?: unknown } }>(
  '/users',
  { schema: { response: { 201: USER_SCHEMA } } },
  async (request, reply) => {
    const { name, email } = request.body ?? {};
    if (typeof name !== 'string' || typeof email !== 'string') return reply.code(400).send({ status: 400 });
    const now = new Date().toISOString();
    const user: User = { id: randomUUID(), name, email, status: 'active', created_at: now, updated_at: now };
    users.set(user.id, user);
    return reply.code(201).header('location', `/users/${user.id}`).send(user);
  },
);

app.get<{ Params: { id: string } }>(
  '/users/:id',
  { schema: { response: { 200: USER_SCHEMA } } },
  async (request, reply) => {
    const user = users.get(request.params.id);
    return user ?? reply.code(404).send({ status: 404 });
  },
);

app.get('/readyz', async () => ({ status: 'ok' }));

await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
