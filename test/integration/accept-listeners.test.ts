import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent, createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { openAcceptListeners, REUSE_PORT_SUPPORTED } from '../../src/platform/http/accept-listeners.ts';

/** Listening TCP sockets on `port`, from the kernel's own table (state 0A is LISTEN). */
function listeningSockets(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (local?.endsWith(`:${hexPort}`) && state === '0A') count++;
    }
  }
  return count;
}

function getStatus(port: number, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/', agent }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    }).on('error', reject);
  });
}

async function listen(server: Server, reusePort: boolean): Promise<number> {
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0, reusePort }, resolve));
  return (server.address() as AddressInfo).port;
}

describe('extra listening sockets (ACCEPT_LISTENERS)', {
  skip: !REUSE_PORT_SUPPORTED && 'no SO_REUSEPORT',
}, () => {
  const servers: Server[] = [];
  after(() => {
    for (const server of servers) server.closeAllConnections();
    return Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it('listens N times on one port and serves every connection, whichever socket accepted it', async () => {
    let connections = 0;
    const server = createServer((_request, response) => response.end('ok'));
    server.on('connection', () => connections++);
    servers.push(server);
    const port = await listen(server, true);
    const listeners = await openAcceptListeners(server, 4);
    assert.equal(listeners.count, 4);
    assert.equal(listeningSockets(port), 4);

    const agent = new Agent({ keepAlive: true, maxSockets: 40 });
    const statuses = await Promise.all(Array.from({ length: 40 }, () => getStatus(port, agent)));
    assert.deepEqual(new Set(statuses), new Set([200]));
    assert.equal(connections, 40, 'every connection reached the HTTP server');
    // The server counts only what its own socket accepted; the kernel spread the rest over the other three.
    const ownAccepts = await new Promise<number>((resolve, reject) =>
      server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
    );
    assert.ok(ownAccepts < 40, `the HTTP server's own socket accepted ${ownAccepts} of 40`);

    listeners.stopAccepting();
    assert.equal(listeningSockets(port), 1, 'only the HTTP server still listens');
    // Connections the closed sockets accepted stay with the HTTP server.
    const again = await Promise.all(Array.from({ length: 40 }, () => getStatus(port, agent)));
    assert.deepEqual(new Set(again), new Set([200]));
    assert.equal(connections, 40, 'the keep-alive connections were reused, none opened');
    agent.destroy();
  });

  it('opens nothing more for one socket, and gives the port back when the server closes', async () => {
    const server = createServer((_request, response) => response.end('ok'));
    const port = await listen(server, false);
    const listeners = await openAcceptListeners(server, 1);
    assert.equal(listeners.count, 1);
    assert.equal(listeningSockets(port), 1);
    listeners.stopAccepting();
    await new Promise((resolve) => server.close(resolve));
    await listeners.drained();
    assert.equal(listeningSockets(port), 0);
  });

  it('drains: resolves only once every connection the extra sockets accepted has ended', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let inFlight = 0;
    const server = createServer(async (_request, response) => {
      inFlight++;
      await held;
      response.end('ok');
    });
    const port = await listen(server, true);
    const listeners = await openAcceptListeners(server, 4);
    const agent = new Agent({ keepAlive: false, maxSockets: 20 });
    const answers = Promise.all(Array.from({ length: 20 }, () => getStatus(port, agent)));
    while (inFlight < 20) await new Promise((resolve) => setImmediate(resolve));

    listeners.stopAccepting();
    const serverClosed = new Promise((resolve) => server.close(resolve));
    let drained = false;
    const draining = listeners.drained().then(() => {
      drained = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(drained, false, 'requests are still in flight on connections the extra sockets accepted');
    release();
    assert.deepEqual(new Set(await answers), new Set([200]));
    await Promise.all([draining, serverClosed]);
    assert.equal(drained, true);
    assert.equal(listeningSockets(port), 0);
  });

  it('fails when the HTTP server did not listen with reusePort, leaving no socket behind', async () => {
    const server = createServer((_request, response) => response.end('ok'));
    servers.push(server);
    const port = await listen(server, false);
    await assert.rejects(openAcceptListeners(server, 3), { code: 'EADDRINUSE' });
    assert.equal(listeningSockets(port), 1);
  });
});
