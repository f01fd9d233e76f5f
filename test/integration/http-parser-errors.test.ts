import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { HealthRegistry } from '../../src/platform/health/health-registry.ts';
import { createHttpServer } from '../../src/platform/http/create-http-server.ts';
import { createLogger } from '../../src/platform/logging/logger.ts';
import { LogCapture } from '../support/log-capture.ts';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** Sends bytes as they are (no client library would send them) and reads the answer until the server closes. */
async function sendRaw(port: number, bytes: string): Promise<RawResponse> {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  socket.write(bytes);
  return readAnswer(socket);
}

async function readAnswer(socket: Socket): Promise<RawResponse> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  await once(socket, 'close');
  const text = Buffer.concat(chunks).toString('utf8');
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const headers = Object.fromEntries(
    headerLines.map((line) => [
      line.slice(0, line.indexOf(':')).toLowerCase(),
      line.slice(line.indexOf(':') + 1).trim(),
    ]),
  );
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    body: JSON.parse(body) as Record<string, unknown>,
  };
}

function assertProblem(answer: RawResponse, status: number, type: string) {
  assert.equal(answer.status, status);
  assert.equal(answer.headers['content-type'], 'application/problem+json');
  assert.equal(answer.body.status, status);
  assert.equal(answer.body.type, `https://problems.user-service.dev/${type}`);
  assert.equal(typeof answer.body.title, 'string');
  assert.equal(typeof answer.body.detail, 'string');
  assert.match(String(answer.body.trace_id), /^[0-9a-f]{32}$/);
}

describe("requests Node's HTTP parser rejects", () => {
  let app: FastifyInstance;
  let port: number;

  before(async () => {
    const { logger } = createLogger({
      service: 'test',
      version: 'test',
      level: 'warn',
      destination: new LogCapture(),
    });
    app = await createHttpServer({
      logger,
      health: new HealthRegistry({ timeoutMs: 1_000 }),
      bodyLimitBytes: 1_024,
      requestTimeoutMs: 10_000,
      slowRequestMs: () => 1_000,
      maxHeaderBytes: 4_096,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  after(() => app.close());

  it('answers 431 problem+json to oversized headers', async () => {
    const answer = await sendRaw(
      port,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: ${'a'.repeat(8_000)}\r\n\r\n`,
    );
    assertProblem(answer, 431, 'request-header-fields-too-large');
    assert.equal(answer.body.instance, '/healthz');
  });

  it('answers 414 problem+json to a request target longer than the header limit', async () => {
    const answer = await sendRaw(port, `GET /healthz?q=${'a'.repeat(8_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assertProblem(answer, 414, 'uri-too-long');
  });

  it('answers 400 problem+json to a malformed request line', async () => {
    const answer = await sendRaw(port, 'NOT AN HTTP REQUEST\r\n\r\n');
    assertProblem(answer, 400, 'bad-request');
    assert.equal(answer.body.instance, undefined, 'no request target to point at');
  });

  it('answers 408 problem+json when the request does not arrive in time', async () => {
    const accepted = once(app.server, 'connection') as Promise<[Socket]>;
    const socket = connect({ host: '127.0.0.1', port });
    const [serverSide] = await accepted;
    const answered = readAnswer(socket);
    // Node raises this after requestTimeout, checked every 30 s; raising it here tests the answer, not the timer.
    app.server.emit(
      'clientError',
      Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }),
      serverSide,
    );
    assertProblem(await answered, 408, 'request-timeout');
  });
});
