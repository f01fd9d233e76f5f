import { createServer, type ServerResponse } from 'node:http';
import pg from 'pg';

/**
 * The PostgreSQL limit for POST /users: bare node:http and a `pg` pool of DB_POOL_MAX connections running one
 * INSERT ... RETURNING into the service's own `users` table (migrated beforehand), with no framework, logging,
 * metrics or tracing. GET /users/:id reads by primary key, as a named prepared statement like the service's reads
 * (DB_PREPARED_STATEMENTS). DATABASE_URL, PORT, HOST and DB_POOL_MAX from the environment.
 */
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.DB_POOL_MAX ?? 10),
});
const COLUMNS = 'id, name, email, status, created_at, updated_at';
const MAX_BODY_BYTES = 16_384;

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': status < 400 ? 'application/json; charset=utf-8' : 'application/problem+json',
    'content-length': Buffer.byteLength(json),
    ...headers,
  });
  res.end(json);
}

const problem = (status: number, title: string) => ({ type: 'about:blank', title, status });

async function create(raw: string, res: ServerResponse): Promise<void> {
  let body: { name?: unknown; email?: unknown };
  try {
    body = JSON.parse(raw) ?? {};
  } catch {
    send(res, 400, problem(400, 'Bad Request'));
    return;
  }
  const { name, email } = body;
  if (typeof name !== 'string' || name.length === 0 || typeof email !== 'string' || !email.includes('@')) {
    send(res, 400, problem(400, 'Bad Request'));
    return;
  }
  try {
    const { rows } = await pool.query(
      `INSERT INTO users (id, name, email) VALUES (gen_random_uuid(), $1, $2) RETURNING ${COLUMNS}`,
      [name, email],
    );
    const user = rows[0] as { id: string };
    send(res, 201, user, { location: `/users/${user.id}` });
  } catch (error) {
    const unique = (error as { code?: string }).code === '23505';
    send(res, unique ? 409 : 503, problem(unique ? 409 : 503, unique ? 'Conflict' : 'Service Unavailable'));
  }
}

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  if (url === '/users' && req.method === 'POST') {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) send(res, 413, problem(413, 'Content Too Large'));
      else void create(Buffer.concat(chunks).toString('utf8'), res);
    });
    return;
  }
  if (req.method === 'GET' && url.startsWith('/users/')) {
    pool
      .query({
        name: 'user-by-id',
        text: `SELECT ${COLUMNS} FROM users WHERE id = $1`,
        values: [url.slice('/users/'.length)],
      })
      .then(
        ({ rows }) => (rows[0] ? send(res, 200, rows[0]) : send(res, 404, problem(404, 'Not Found'))),
        () => send(res, 404, problem(404, 'Not Found')),
      );
    return;
  }
  if (url === '/readyz') {
    pool.query('SELECT 1').then(
      () => send(res, 200, { status: 'ok' }),
      () => send(res, 503, problem(503, 'Service Unavailable')),
    );
    return;
  }
  send(res, 404, problem(404, 'Not Found'));
});

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => void pool.end().then(() => process.exit(0)));
  server.closeAllConnections();
});
