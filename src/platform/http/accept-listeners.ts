import type { Server as HttpServer } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';

/**
 * libuv accepts one connection per listening socket and event-loop turn (libuv/libuv#3696), and under load a
 * turn lasts as long as the requests it runs. A burst of new connections (a new pod's first traffic, a sidecar
 * filling its pool, a client reconnecting) then waits in the kernel's accept queue one turn per connection: 50
 * connections took about 1 s to be accepted by a server spending 0.7 ms per request, their first requests
 * answered that late. More listening sockets on the same port (SO_REUSEPORT: the kernel spreads new connections
 * over them) accept that many per turn; each hands its sockets to the one HTTP server, which serves them as its
 * own. `bench/first-traffic.ts` measures the effect.
 *
 * Linux and the BSDs only (Node's `reusePort`); a port is only shared with sockets of the same user.
 */
export const REUSE_PORT_SUPPORTED = ['linux', 'freebsd'].includes(process.platform);

export interface AcceptListeners {
  /** How many sockets listen on the port, the HTTP server's own included. */
  readonly count: number;
  /** Closes the extra listening sockets at once; the connections they accepted stay open. */
  stopAccepting(): void;
  /**
   * Resolves once every connection the extra sockets accepted has ended (after `stopAccepting`). The HTTP server
   * serves and closes them as its own, but its `close` only waits for the connections its own socket accepted.
   */
  drained(): Promise<void>;
}

/**
 * Opens `total - 1` more listening sockets beside `server`'s, which must already listen with `reusePort: true`
 * when `total` > 1. Their connections are emitted to `server` as `connection` events.
 */
export async function openAcceptListeners(server: HttpServer, total: number): Promise<AcceptListeners> {
  const address = server.address() as AddressInfo;
  const extra: Server[] = [];
  // net.Server emits `close` once it has stopped listening and every connection it accepted has ended.
  const closed: Promise<unknown>[] = [];
  const stopAccepting = () => {
    for (const listener of extra) if (listener.listening) listener.close();
  };
  try {
    for (let i = 1; i < total; i++) {
      // noDelay as node:http's own listener sets it; keep-alive probes left off as there.
      const listener = createServer({ noDelay: true }, (socket: Socket) => server.emit('connection', socket));
      extra.push(listener);
      closed.push(new Promise((resolve) => listener.once('close', resolve)));
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen({ host: address.address, port: address.port, reusePort: true }, () => {
          listener.off('error', reject);
          resolve();
        });
      });
    }
  } catch (error) {
    stopAccepting();
    throw error;
  }
  return {
    count: 1 + extra.length,
    stopAccepting,
    drained: async () => {
      await Promise.all(closed);
    },
  };
}
