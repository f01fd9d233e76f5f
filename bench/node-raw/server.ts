import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { ContenderUser as User } from '../lib/contender-user.ts';

/**
 * The Node limit: the user-service routes on bare node:http over an in-memory Map, with no framework, logging,
 * metrics or schema validation beyond what a response needs. Listens on PORT (0 picks a free one) and prints
 * `listening <port>` once bound.
 */
interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

const users = new Map<string, User>();
const emails = new Set<string>();
const MAX_BODY_BYTES = 16_384;

function send(res: ServerResponse, { status, body, headers }: Reply): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': status < 400 ? 'application/json; charset=utf-8' : 'application/problem+json',
    'content-length': Buffer.byteLength(json),
    ...headers,
  });
  res.end(json);
}

function problem(status: number, title: string): Reply {
  return { status, body: { type: 'about:blank', title, status } };
}

function list(query: string): Reply {
  const limit = Number(new URLSearchParams(query).get('limit') ?? 20);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) return problem(400, 'Bad Request');
  const items: User[] = [];
  for (const user of users.values()) {
    if (items.length === limit) break;
    items.push(user);
  }
  const more = items.length === limit && users.size > limit;
  return { status: 200, body: { items, next_cursor: more ? items.at(-1)?.id : null } };
}

function create(raw: string): Reply {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return problem(400, 'Bad Request');
  }
  const { name, email } = (body ?? {}) as { name?: unknown; email?: unknown };
  if (typeof name !== 'string' || name.length === 0 || typeof email !== 'string' || !email.includes('@'))
    return problem(400, 'Bad Request');
  const key = email.toLowerCase();
  if (emails.has(key)) return problem(409, 'Conflict');
  const now = new Date().toISOString();
  const user: User = { id: randomUUID(), name, email, status: 'active', created_at: now, updated_at: now };
  users.set(user.id, user);
  emails.add(key);
  return { status: 201, body: user, headers: { location: `/users/${user.id}` } };
}

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (path === '/users' && req.method === 'POST') {
    if (!req.headers['content-type']?.startsWith('application/json')) {
      send(res, problem(415, 'Unsupported Media Type'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      send(
        res,
        size > MAX_BODY_BYTES
          ? problem(413, 'Content Too Large')
          : create(Buffer.concat(chunks).toString('utf8')),
      );
    });
    return;
  }
  let reply: Reply;
  if (req.method === 'GET' && path.startsWith('/users/')) {
    const user = users.get(path.slice('/users/'.length));
    reply = user ? { status: 200, body: user } : problem(404, 'Not Found');
  } else if (req.method === 'GET' && path === '/users') {
    reply = list(q === -1 ? '' : url.slice(q + 1));
  } else if (path === '/readyz' || path === '/healthz') {
    reply = { status: 200, body: { status: 'ok' } };
  } else {
    reply = problem(404, 'Not Found');
  }
  send(res, reply);
});

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening ${typeof address === 'object' && address ? address.port : ''}`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
