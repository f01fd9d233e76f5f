import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter, once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { emitInContext } from '../../src/platform/http/emit-in-context.ts';

/** POSTs a body to a server whose handler reads it inside `store`, and returns what its listeners saw. */
async function storesSeenByBodyListeners(
  wrap: boolean,
): Promise<{ data: unknown; end: unknown; body: string }> {
  const als = new AsyncLocalStorage<string>();
  const seen = { data: undefined as unknown, end: undefined as unknown, body: '' };
  const server = createServer((request: IncomingMessage, response) => {
    als.run('request-1', () => {
      if (wrap) emitInContext(request, (emit) => als.run('request-1', emit));
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => {
        seen.data = als.getStore();
        seen.body += chunk;
      });
      request.on('end', () => {
        seen.end = als.getStore();
        response.end('ok');
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const { port } = server.address() as AddressInfo;
    const client = httpRequest({ port, host: '127.0.0.1', method: 'POST', path: '/' });
    client.end('{"name":"Ann"}');
    const [answer] = (await once(client, 'response')) as [IncomingMessage];
    answer.resume();
    await once(answer, 'end');
  } finally {
    server.close();
  }
  return seen;
}

describe('emitInContext', () => {
  it('runs the body listeners of a request in its context', async () => {
    const seen = await storesSeenByBodyListeners(true);
    assert.deepEqual(seen, { data: 'request-1', end: 'request-1', body: '{"name":"Ann"}' });
  });

  it('is needed: without it Node emits the body outside the context the handler started in', async () => {
    const seen = await storesSeenByBodyListeners(false);
    assert.equal(seen.body, '{"name":"Ann"}');
    assert.equal(seen.end, undefined);
  });

  it('leaves listeners as they were added: removeListener with the original works', () => {
    const als = new AsyncLocalStorage<string>();
    const emitter = requestStandIn({ 'content-length': '1' });
    const stores: unknown[] = [];
    const listener = () => stores.push(als.getStore());
    emitInContext(emitter, (emit) => als.run('request-1', emit));
    emitter.on('data', listener);
    emitter.emit('data', 'a');
    emitter.removeListener('data', listener);
    emitter.emit('data', 'b');
    assert.deepEqual(stores, ['request-1']);
  });

  it('leaves a request without a body as it is', () => {
    const request = requestStandIn({});
    const emit = request.emit;
    emitInContext(request, () => {
      throw new Error('not entered for a request without a body');
    });
    assert.equal(request.emit, emit);
    assert.equal(Object.hasOwn(request, 'emit'), false);
  });
});

/** An emitter with the headers emitInContext reads, standing in for a request. */
function requestStandIn(headers: Record<string, string>): IncomingMessage {
  return Object.assign(new EventEmitter(), { headers }) as unknown as IncomingMessage;
}
