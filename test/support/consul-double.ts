import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Entry {
  value: string;
  createIndex: number;
  modifyIndex: number;
}

/**
 * An in-test stand-in for Consul's KV HTTP API (https://developer.hashicorp.com/consul/api-docs/kv), following
 * the documented blocking-query contract: `GET /v1/kv/:prefix?recurse&index=N&wait=Ws` holds the request until
 * the prefix's index passes N or the wait (plus up to wait/16 jitter) ends, and answers with `X-Consul-Index`.
 * An empty prefix is a 404 that still carries the index. ACL tokens come in `X-Consul-Token`.
 */
export class ConsulDouble {
  readonly #entries = new Map<string, Entry>();
  readonly #waiters = new Set<() => void>();
  readonly #sockets = new Set<import('node:net').Socket>();
  #index = 1;
  #server: Server | undefined;
  #port = 0;
  readonly token: string | undefined;
  /** Every KV GET, for assertions on the index/wait parameters clients send. */
  readonly requests: { index: string | null; wait: string | null; token: string | undefined }[] = [];

  constructor(options: { token?: string } = {}) {
    this.token = options.token;
  }

  get address(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async start(port = this.#port): Promise<void> {
    this.#server = createServer((request, response) => void this.#handle(request, response));
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    this.#server.listen(port, '127.0.0.1');
    await once(this.#server, 'listening');
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  /** Simulates an outage: the port stops accepting and open blocking queries are cut. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.close();
    for (const socket of this.#sockets) socket.destroy();
    await once(server, 'close');
  }

  put(key: string, value: string): void {
    this.#index += 1;
    const existing = this.#entries.get(key);
    this.#entries.set(key, {
      value,
      createIndex: existing?.createIndex ?? this.#index,
      modifyIndex: this.#index,
    });
    this.#wakeAll();
  }

  delete(key: string): void {
    this.#index += 1;
    this.#entries.delete(key);
    this.#wakeAll();
  }

  #wakeAll(): void {
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }

  #prefixIndex(prefix: string): number {
    // Consul answers a recurse read with the highest ModifyIndex under the prefix (a delete raises the index too).
    let index = 0;
    for (const [key, entry] of this.#entries)
      if (key.startsWith(prefix)) index = Math.max(index, entry.modifyIndex);
    return Math.max(index, this.#index);
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://consul');
    if (!url.pathname.startsWith('/v1/kv/')) {
      response.writeHead(404).end();
      return;
    }
    const token = request.headers['x-consul-token'] as string | undefined;
    if (this.token !== undefined && token !== this.token) {
      response.writeHead(403, { 'content-type': 'text/plain' }).end('ACL not found');
      return;
    }
    const key = decodeURIComponent(url.pathname.slice('/v1/kv/'.length));
    if (request.method === 'PUT') {
      let body = '';
      for await (const chunk of request) body += chunk;
      this.put(key, body);
      response.writeHead(200, { 'content-type': 'application/json' }).end('true');
      return;
    }
    if (request.method !== 'GET') {
      response.writeHead(405).end();
      return;
    }
    this.requests.push({ index: url.searchParams.get('index'), wait: url.searchParams.get('wait'), token });
    const recurse = url.searchParams.has('recurse');
    const wantedIndex = Number(url.searchParams.get('index') ?? '0');
    if (wantedIndex > 0 && this.#prefixIndex(key) <= wantedIndex) {
      const waitSeconds = parseWait(url.searchParams.get('wait'));
      const jitter = Math.random() * (waitSeconds / 16);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, (waitSeconds + jitter) * 1_000);
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        this.#waiters.add(wake);
        request.on('close', wake);
      });
      if (response.destroyed) return;
    }
    const matches = [...this.#entries].filter(([name]) => (recurse ? name.startsWith(key) : name === key));
    const headers = { 'content-type': 'application/json', 'x-consul-index': String(this.#prefixIndex(key)) };
    if (matches.length === 0) {
      response.writeHead(404, headers).end();
      return;
    }
    response.writeHead(200, headers).end(
      JSON.stringify(
        matches.map(([name, entry]) => ({
          Key: name,
          Value: Buffer.from(entry.value, 'utf8').toString('base64'),
          Flags: 0,
          CreateIndex: entry.createIndex,
          ModifyIndex: entry.modifyIndex,
          LockIndex: 0,
        })),
      ),
    );
  }
}

function parseWait(wait: string | null): number {
  // Consul's default wait is 5 minutes, its maximum 10.
  if (!wait) return 300;
  const match = /^(\d+)(ms|s|m)?$/.exec(wait);
  if (!match) return 300;
  const amount = Number(match[1]);
  const seconds = match[2] === 'ms' ? amount / 1_000 : match[2] === 'm' ? amount * 60 : amount;
  return Math.min(seconds, 600);
}
