import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { type AddressInfo, connect, createServer } from 'node:net';

/**
 * Preloaded into a server (`--import`), makes three client requests at start-up the way an exporter or any
 * outgoing call would, to a throwaway local listener, then gets out of the way: `bench/thread-cpu.ts --setting
 * NODE_OPTIONS=-,--import=$PWD/bench/preload/client-requests.ts` shows what having made them costs every request the
 * server serves afterwards. CLIENT_REQUESTS_KIND picks the client: `http` (node:http, the default), `fetch`, `net`.
 */
const kind = process.env.CLIENT_REQUESTS_KIND ?? 'http';
const REQUESTS = 3;
const ANSWER = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}';

const listener = createServer((socket) => {
  socket.on('data', () => (kind === 'net' ? socket.end('ok') : socket.write(ANSWER)));
  socket.on('error', () => {});
});
listener.unref();
listener.listen(0, '127.0.0.1');
await once(listener, 'listening');
const { port } = listener.address() as AddressInfo;
const agent = new Agent({ keepAlive: true });

async function oneRequest(): Promise<void> {
  if (kind === 'fetch') {
    const response = await fetch(`http://127.0.0.1:${port}/v1/traces`, { method: 'POST', body: '{}' });
    await response.arrayBuffer();
  } else if (kind === 'net') {
    const socket = connect(port, '127.0.0.1', () => socket.write('hi'));
    socket.resume();
    await once(socket, 'close');
  } else {
    await new Promise<void>((resolve, reject) => {
      const sent = request(
        { host: '127.0.0.1', port, method: 'POST', path: '/v1/traces', agent },
        (response) => {
          response.resume();
          response.on('end', resolve);
        },
      );
      sent.on('error', reject);
      sent.end('{}');
    });
  }
}

for (let i = 0; i < REQUESTS; i++) await oneRequest();
agent.destroy();
listener.close();
