import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HealthRegistry } from '../../src/platform/health/health-registry.ts';
import { createHttpServer, type HttpServerOptions } from '../../src/platform/http/create-http-server.ts';
import { createLogger } from '../../src/platform/logging/logger.ts';
import { LogCapture, type LogLine } from '../support/log-capture.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const ISO_MS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

/** A bare server (no routes of its own) logging through `logger`; requests are slow after a second unless told. */
const serverLoggingTo = (logger: HttpServerOptions['logger'], options: Partial<HttpServerOptions> = {}) =>
  createHttpServer({
    logger,
    health: new HealthRegistry({ timeoutMs: 100 }),
    bodyLimitBytes: 1024,
    requestTimeoutMs: 1000,
    slowRequestMs: () => 1000,
    ...options,
  });

describe('JSON logs', () => {
  let testApp: TestApp;
  before(async () => {
    testApp = await startTestApp('memory://', { slowRequestMs: 1_000 });
  });
  after(() => testApp.close());

  const requestLines = () => testApp.logs.lines.filter((line) => line.message === 'request completed');

  it('writes a business event line for a created user, with its trace id and no personal data', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const response = await fetch(`${testApp.url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-b7ad6b7169203331-01` },
      body: JSON.stringify({ name: 'Event User', email: 'event.user@example.com' }),
    });
    assert.equal(response.status, 201);
    const { id } = (await response.json()) as { id: string };
    const line = testApp.logs.find(
      (candidate) => candidate.event === 'user_created' && candidate.user_id === id,
    );
    assert.ok(line, 'a user_created line');
    assert.equal(line.level, 'INFO');
    assert.equal(line.trace_id, traceId);
    assert.equal(line.user_status, 'active');
    assert.equal(JSON.stringify(line).includes('event.user@example.com'), false);
  });

  it('writes one line per request with the platform fields and the route template', async () => {
    const before = requestLines().length;
    const response = await fetch(`${testApp.url}/users/01900000-0000-7000-8000-000000000000`);
    assert.equal(response.status, 404);
    const lines = requestLines().slice(before);
    assert.equal(lines.length, 1);
    const line = lines[0] as LogLine;
    assert.match(line.timestamp, ISO_MS_UTC);
    assert.equal(line.level, 'INFO');
    assert.equal(line.service, 'user-service');
    assert.equal(line.version, 'test');
    assert.equal(line.method, 'GET');
    assert.equal(line.route, '/users/:id', 'the template, never the raw path');
    assert.equal(line.status, 404);
    assert.equal(typeof line.duration_ms, 'number');
    assert.match(String(line.trace_id), /^[0-9a-f]{32}$/);
    const raw = testApp.logs.raw.at(-1) ?? '';
    assert.equal(raw.includes('\n'), false);
  });

  it('follows an incoming W3C traceparent and returns the same trace_id in problems', async () => {
    const response = await fetch(`${testApp.url}/users/not-a-uuid`, {
      headers: { traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` },
    });
    const problem = (await response.json()) as { trace_id: string };
    assert.equal(problem.trace_id, TRACE_ID);
    assert.equal(requestLines().at(-1)?.trace_id, TRACE_ID);
  });

  it('starts a new trace for a missing or malformed traceparent', async () => {
    const ids = new Set<string>();
    for (const traceparent of [undefined, 'garbage', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`]) {
      await fetch(`${testApp.url}/healthz-missing`, { headers: traceparent ? { traceparent } : {} });
      const id = String(requestLines().at(-1)?.trace_id);
      assert.match(id, /^[0-9a-f]{32}$/);
      assert.notEqual(id, '0'.repeat(32));
      ids.add(id);
    }
    assert.equal(ids.size, 3);
  });

  it('does not log probe requests', async () => {
    const before = testApp.logs.lines.length;
    await fetch(`${testApp.url}/healthz`);
    await fetch(`${testApp.url}/readyz`);
    assert.equal(testApp.logs.lines.length, before);
  });
});

describe('log levels and redaction', () => {
  it('redacts authorization headers, cookies, passwords, tokens and secrets wherever they sit', () => {
    const logs = new LogCapture();
    const { logger } = createLogger({ service: 's', version: 'v', level: 'info', destination: logs });
    logger.info(
      {
        headers: { authorization: 'Bearer abc.def', cookie: 'session=1', 'x-vault-token': 'hvs.x' },
        password: 'hunter2',
        user: { token: 'tok-value-1', secret: 'sec-value-2', name: 'visible' },
        config: { database: { password: 'deep' } },
      },
      'with secrets',
    );
    const raw = logs.raw.join('\n');
    for (const secret of ['abc.def', 'session=1', 'hvs.x', 'hunter2', 'tok-value-1', 'sec-value-2', 'deep']) {
      assert.equal(raw.includes(secret), false, `${secret} leaked`);
    }
    assert.equal((logs.lines[0]!.user as { name: string }).name, 'visible');
    assert.equal((logs.lines[0]!.headers as { authorization: string }).authorization, '[REDACTED]');
  });

  it('honours LOG_LEVEL and maps levels to DEBUG/INFO/WARN/ERROR', () => {
    const logs = new LogCapture();
    const { logger } = createLogger({ service: 's', version: 'v', level: 'warn', destination: logs });
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    logger.fatal('f');
    assert.deepEqual(
      logs.lines.map((line) => [line.level, line.message]),
      [
        ['WARN', 'w'],
        ['ERROR', 'e'],
        ['ERROR', 'f'],
      ],
    );
  });

  it('logs system errors at ERROR with the stack, hides them from the client, and counts them by kind', async () => {
    const logs = new LogCapture();
    const { logger } = createLogger({ service: 's', version: 'v', level: 'info', destination: logs });
    const observed: string[] = [];
    const app = await serverLoggingTo(logger, { onError: (kind) => observed.push(kind) });
    app.get('/boom', async () => {
      throw new Error('connection string postgres://x:pw@db leaked?');
    });
    const response = await app.inject({
      method: 'GET',
      url: '/boom',
      headers: { traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` },
    });
    await app.close();
    assert.equal(response.statusCode, 500);
    assert.equal(response.headers['content-type'], 'application/problem+json');
    assert.equal(response.body.includes('leaked'), false);
    assert.equal(response.json().trace_id, TRACE_ID);
    const errorLine = logs.find((line) => line.level === 'ERROR');
    assert.ok(errorLine, 'an ERROR line');
    assert.equal(errorLine.trace_id, TRACE_ID);
    assert.match(String((errorLine.error as { stack: string }).stack), /logging\.test\.ts/);
    assert.deepEqual(observed, ['system']);
  });

  it('gives lines the root logger writes while handling a request the request trace_id, tracing off', async () => {
    const logs = new LogCapture();
    const { logger } = createLogger({ service: 's', version: 'v', level: 'info', destination: logs });
    const app = await serverLoggingTo(logger);
    // What a dependency's degraded path does: it logs through the logger it was built with, not the request's.
    const degrade = async (route: string) => {
      await new Promise((resolve) => setImmediate(resolve));
      logger.warn({ dependency: 'risk-service', route }, 'dependency unavailable');
      return { degraded: true };
    };
    app.get('/read', () => degrade('read'));
    app.post('/write', () => degrade('write'));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const traceparent = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
    await fetch(`${url}/read`, { headers: { traceparent } });
    // A body arrives from the socket after the handler starts: its parsing must stay in the request's context.
    await fetch(`${url}/write`, {
      method: 'POST',
      headers: { traceparent, 'content-type': 'application/json' },
      body: JSON.stringify({ a: 1 }),
    });
    const untraced = await fetch(`${url}/read`);
    await app.close();
    const warnings = logs.lines.filter((line) => line.message === 'dependency unavailable');
    assert.deepEqual(
      warnings.slice(0, 2).map((line) => [line.route, line.trace_id]),
      [
        ['read', TRACE_ID],
        ['write', TRACE_ID],
      ],
    );
    const own = logs.lines.filter((line) => line.message === 'request completed').at(-1);
    assert.equal(untraced.status, 200);
    assert.match(String(warnings[2]?.trace_id), /^[0-9a-f]{32}$/);
    assert.equal(warnings[2]?.trace_id, own?.trace_id, 'the same id as the request line');
    assert.notEqual(warnings[2]?.trace_id, TRACE_ID);
    for (const raw of logs.raw) {
      assert.ok((raw.match(/"trace_id"/g)?.length ?? 0) <= 1, `at most one trace_id in ${raw}`);
    }
  });

  it('marks requests slower than the threshold with a WARN line and slow: true', async () => {
    const logs = new LogCapture();
    const { logger } = createLogger({ service: 's', version: 'v', level: 'info', destination: logs });
    let threshold = 10_000;
    const app = await serverLoggingTo(logger, { slowRequestMs: () => threshold });
    app.get('/wait', async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return { ok: true };
    });
    await app.inject({ method: 'GET', url: '/wait' });
    threshold = 5;
    await app.inject({ method: 'GET', url: '/wait' });
    await app.close();
    const lines = logs.lines.filter((line) => line.route === '/wait');
    assert.deepEqual(
      lines.map((line) => [line.level, line.slow]),
      [
        ['INFO', undefined],
        ['WARN', true],
      ],
    );
  });
});
