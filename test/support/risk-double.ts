import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type RiskMode =
  | { kind: 'decide' }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'status'; status: number }
  | { kind: 'garbage' };

/**
 * A risk-check service for tests: POST {name, email} -> {decision}. The decision follows the email's local part
 * (`deny…` -> deny, `review…` -> review, anything else allow). `mode` injects faults; `stop()`/`start()` take
 * the port away and bring it back.
 */
export class RiskDouble {
  mode: RiskMode = { kind: 'decide' };
  calls = 0;
  #server: Server | undefined;
  #port = 0;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();

  get url(): string {
    return `http://127.0.0.1:${this.#port}/v1/checks`;
  }

  async start(): Promise<void> {
    const server = createServer(async (request, response) => {
      let raw = '';
      for await (const chunk of request) raw += chunk;
      this.calls += 1;
      const mode = this.mode;
      const answer = () => {
        if (response.destroyed) return;
        if (mode.kind === 'status') {
          response.writeHead(mode.status, { 'content-type': 'application/json' }).end('{"error":"injected"}');
          return;
        }
        if (mode.kind === 'garbage') {
          response.writeHead(200, { 'content-type': 'application/json' }).end('{"decision":"maybe"}');
          return;
        }
        const { email } = JSON.parse(raw) as { email: string };
        const decision = email.startsWith('deny') ? 'deny' : email.startsWith('review') ? 'review' : 'allow';
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ decision }));
      };
      if (mode.kind === 'slow') {
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          answer();
        }, mode.delayMs);
        this.#timers.add(timer);
      } else {
        answer();
      }
    });
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    server.listen(this.#port, '127.0.0.1');
    await once(server, 'listening');
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    server.close();
    for (const socket of this.#sockets) socket.destroy();
    await once(server, 'close');
  }
}
