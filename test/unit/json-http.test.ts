import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HttpCallError, requestJson } from '../../src/platform/http/json-http.ts';
import { OutboundCallError } from '../../src/platform/resilience/outbound-call-error.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

describe('requestJson (against a loopback node:http server)', () => {
  const seen: Seen[] = [];
  /** Requests the server holds without answering, so the timeout test needs no sleep. */
  const held: ServerResponse[] = [];
  const routes: Record<string, (response: ServerResponse) => void> = {
    '/ok': (response) =>
      response
        .writeHead(200, { 'content-type': 'application/json', 'x-index': '7' })
        .end('{"id":1,"name":"a"}'),
    '/empty': (response) => response.writeHead(204).end(),
    '/json-error': (response) =>
      response.writeHead(403, { 'content-type': 'application/json' }).end('{"errors":["permission denied"]}'),
    '/text-error': (response) =>
      response.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>'),
    '/not-json': (response) => response.writeHead(200, { 'content-type': 'application/json' }).end('{"id":'),
    '/missing': (response) => response.writeHead(404).end(),
    '/hang': (response) => void held.push(response),
  };
  const server = createServer(async (request, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    (routes[path] ?? routes['/missing'])?.(response);
  });
  let base = '';

  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const response of held) response.destroy();
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  it('returns the typed body, status and headers of a 2xx answer and sends JSON', async () => {
    const answer = await requestJson<{ id: number; name: string }>(`${base}/ok`, {
      service: 'test',
      method: 'POST',
      json: { hello: 'world' },
    });
    const id: number = answer.body.id;
    assert.equal(id, 1);
    assert.equal(answer.body.name, 'a');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('x-index'), '7');
    const request = seen.at(-1);
    assert.equal(request?.method, 'POST');
    assert.equal(request?.headers['content-type'], 'application/json');
    assert.equal(request?.headers.accept, 'application/json');
    assert.deepEqual(JSON.parse(request?.body ?? ''), { hello: 'world' });
  });

  it('defaults to GET without a body and yields undefined for an empty answer', async () => {
    const answer = await requestJson<undefined>(`${base}/empty`, { service: 'test' });
    assert.equal(answer.status, 204);
    assert.equal(answer.body, undefined);
    assert.equal(seen.at(-1)?.method, 'GET');
  });

  it('sends a raw body as is, with the caller’s content type', async () => {
    await requestJson(`${base}/ok`, {
      service: 'test',
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1&b=2',
    });
    assert.equal(seen.at(-1)?.body, 'a=1&b=2');
    assert.equal(seen.at(-1)?.headers['content-type'], 'application/x-www-form-urlencoded');
  });

  it('turns a non-2xx JSON error body into status, parsed body and a readable message', async () => {
    const error = await requestJson(`${base}/json-error?key=secret-key`, { service: 'Vault' }).then(
      () => assert.fail('a 403 must reject'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof HttpCallError);
    assert.ok(error instanceof OutboundCallError, 'call policies recognise it');
    assert.equal(error.status, 403);
    assert.equal(error.retryable, false);
    assert.deepEqual(error.body, { errors: ['permission denied'] });
    assert.equal(error.message, 'Vault GET /json-error answered 403: permission denied');
    assert.doesNotMatch(error.message, /secret-key/, 'the query string (where keys travel) stays out');
  });

  it('keeps the start of a non-JSON error body and marks a 5xx retryable', async () => {
    const error = await requestJson(`${base}/text-error`, { service: 'gateway' }).catch((e: unknown) => e);
    assert.ok(error instanceof HttpCallError);
    assert.equal(error.status, 502);
    assert.equal(error.retryable, true);
    assert.equal(error.body, '<html>Bad Gateway</html>');
    assert.match(error.message, /answered 502: <html>Bad Gateway<\/html>$/);
  });

  it('lets the caller decide which statuses are retryable and which are answers', async () => {
    const strict = await requestJson(`${base}/text-error`, {
      service: 'gateway',
      retryableStatus: (status) => status === 503,
    }).catch((e: unknown) => e);
    assert.equal((strict as HttpCallError).retryable, false);
    const missing = await requestJson<undefined>(`${base}/missing`, { service: 'kv', acceptStatus: [404] });
    assert.equal(missing.status, 404);
    assert.equal(missing.body, undefined);
  });

  it('rejects a 2xx whose body is not JSON as not retryable', async () => {
    const error = await requestJson(`${base}/not-json`, { service: 'risk' }).catch((e: unknown) => e);
    assert.ok(error instanceof HttpCallError);
    assert.equal(error.retryable, false);
    assert.equal(error.status, undefined);
    assert.match(error.message, /risk GET \/not-json answered 200 with a body that is not JSON/);
  });

  it('times out a call the server never answers, as a retryable error', async () => {
    const arrived = held.length;
    const error = await requestJson(`${base}/hang`, { service: 'slow', timeoutMs: 500 }).catch(
      (e: unknown) => e,
    );
    assert.ok(error instanceof HttpCallError);
    assert.equal(error.retryable, true);
    assert.equal(error.status, undefined);
    assert.equal(error.message, 'slow GET /hang timed out after 500 ms');
    assert.equal(held.length, arrived + 1, 'the request did reach the server');
  });

  it('stops when the caller’s signal aborts, and reports an unreachable server as retryable', async () => {
    const controller = new AbortController();
    const pending = requestJson(`${base}/hang`, {
      service: 'slow',
      signal: controller.signal,
      timeoutMs: 60_000,
    });
    controller.abort(new Error('attempt timed out'));
    const aborted = await pending.catch((e: unknown) => e);
    assert.ok(aborted instanceof HttpCallError);
    assert.equal(aborted.retryable, true);
    assert.match(aborted.message, /slow GET \/hang unreachable/);

    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    const refused = await requestJson(`http://127.0.0.1:${port}/`, { service: 'gone' }).catch(
      (e: unknown) => e,
    );
    assert.ok(refused instanceof HttpCallError);
    assert.equal(refused.retryable, true);
    assert.match(refused.message, /^gone GET \/ unreachable: /);
  });

  it('throws the client’s own subclass', async () => {
    class VaultishError extends HttpCallError {
      override readonly name = 'VaultishError';
    }
    const error = await requestJson(`${base}/json-error`, { service: 'v', errorClass: VaultishError }).catch(
      (e: unknown) => e,
    );
    assert.ok(error instanceof VaultishError);
    assert.equal((error as VaultishError).name, 'VaultishError');
    assert.equal((error as VaultishError).status, 403);
  });
});
