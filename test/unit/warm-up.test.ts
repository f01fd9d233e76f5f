import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { isWarmUpRequest, markWarmUpRequest, warmUp } from '../../src/platform/http/warm-up.ts';

/** A server that answers every GET with its path as a JSON body, and records what it saw. */
async function startServer(
  answer?: (request: IncomingMessage) => { status: number; body: string; chunked?: boolean },
): Promise<{
  server: Server;
  address: AddressInfo;
  seen: { path: string; warmUp: boolean }[];
  tokens: Set<string>;
}> {
  const seen: { path: string; warmUp: boolean }[] = [];
  const tokens = new Set<string>();
  const server = createServer((request, response) => {
    markWarmUpRequest(request);
    seen.push({ path: request.url ?? '', warmUp: isWarmUpRequest(request) });
    const token = request.headers['x-warm-up'];
    if (typeof token === 'string') tokens.add(token);
    const { status, body, chunked } = answer?.(request) ?? {
      status: 200,
      body: JSON.stringify({ path: request.url, text: 'ünïcödé' }),
    };
    if (chunked) {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.write(body);
      response.end();
      return;
    }
    response.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    response.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, address: server.address() as AddressInfo, seen, tokens };
}

describe('warm-up driver', () => {
  const servers: Server[] = [];
  after(() => {
    for (const server of servers) server.close();
  });

  it('sends exactly the requested number of GETs, cycling through the paths, each marked as warm-up', async () => {
    const { server, address, seen } = await startServer();
    servers.push(server);
    let discovered: { status: number; body: string } | undefined;
    const result = await warmUp(
      address,
      async (get) => {
        discovered = await get('/discover');
        return ['/a', '/b', '/c'];
      },
      { requests: 310, maxMs: 30_000 },
    );
    assert.equal(result.stoppedBy, undefined);
    assert.equal(result.requests, 310);
    assert.equal(seen.length, 310);
    assert.equal(discovered?.status, 200);
    assert.deepEqual(JSON.parse(discovered?.body ?? ''), { path: '/discover', text: 'ünïcödé' });
    assert.ok(seen.every((request) => request.warmUp));
    const counts = Object.groupBy(seen.slice(1), (request) => request.path);
    assert.deepEqual(Object.keys(counts).sort(), ['/a', '/b', '/c']);
  });

  it('only the process token marks a request: another value of the header does not', async () => {
    const { server, address, seen } = await startServer();
    servers.push(server);
    await fetch(`http://127.0.0.1:${address.port}/x`, { headers: { 'x-warm-up': 'not-the-token' } });
    await fetch(`http://127.0.0.1:${address.port}/y`);
    assert.deepEqual(seen, [
      { path: '/x', warmUp: false },
      { path: '/y', warmUp: false },
    ]);
  });

  it('marks nothing once the warm-up is over, not even a request carrying its token', async () => {
    const { server, address, seen, tokens } = await startServer();
    servers.push(server);
    await warmUp(address, async () => ['/a'], { requests: 10, maxMs: 5_000 });
    assert.equal(tokens.size, 1);
    const [token] = tokens;
    await fetch(`http://127.0.0.1:${address.port}/late`, { headers: { 'x-warm-up': token as string } });
    assert.deepEqual(seen.at(-1), { path: '/late', warmUp: false });
    assert.ok(seen.slice(0, -1).every((request) => request.warmUp));
  });

  it('stops at the time bound and says so', async () => {
    const { server, address } = await startServer();
    servers.push(server);
    const result = await warmUp(address, async () => ['/slow'], { requests: 100_000_000, maxMs: 200 });
    assert.match(result.stoppedBy ?? '', /time bound of 200 ms/);
    assert.ok(result.requests < 100_000_000);
  });

  it('ends early instead of hanging or throwing when a response cannot be split', async () => {
    const { server, address } = await startServer(() => ({ status: 200, body: '{}', chunked: true }));
    servers.push(server);
    const result = await warmUp(address, async () => ['/chunked'], { requests: 50, maxMs: 5_000 });
    assert.match(result.stoppedBy ?? '', /no Content-Length/);
  });

  it('ends early when nothing listens', async () => {
    const { server, address } = await startServer();
    server.close();
    await once(server, 'close');
    const result = await warmUp(address, async () => ['/gone'], { requests: 10, maxMs: 5_000 });
    assert.match(result.stoppedBy ?? '', /ECONNREFUSED/);
    assert.equal(result.requests, 0);
  });
});
