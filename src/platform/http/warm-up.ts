import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';

/**
 * The header a warm-up request carries, with a token drawn per process: no client can make its requests pass as
 * warm-up ones (and so escape logs, metrics, rate limits and fault injection).
 */
const WARM_UP_HEADER = 'x-warm-up';
const token = randomBytes(16).toString('hex');
const WARM_UP = Symbol('user-service.warm-up');
/** True while `warmUp` runs: before and after it, marking a request is one boolean test. */
let warmingUp = false;

type MarkedRequest = IncomingMessage & { [WARM_UP]?: true };

/** Called once per request before anything else looks at it. */
export function markWarmUpRequest(request: IncomingMessage): void {
  if (warmingUp && request.headers[WARM_UP_HEADER] === token) (request as MarkedRequest)[WARM_UP] = true;
}

/** The request was sent by this process's own warm-up: it is served, but not logged, counted or traced. */
export function isWarmUpRequest(request: IncomingMessage): boolean {
  return (request as MarkedRequest)[WARM_UP] === true;
}

/** A GET through the server the warm-up is warming, for the service to find paths that answer 200. */
export type WarmUpGet = (path: string) => Promise<{ status: number; body: string }>;

/**
 * The service's read-only requests worth compiling before traffic arrives. Given a GET, it returns the paths to
 * cycle through (for the users service: a page of the list, users it found there, and an id that is not found).
 */
export type WarmUpPaths = (get: WarmUpGet) => Promise<string[]>;

export interface WarmUpResult {
  requests: number;
  ms: number;
  /** Why it stopped early, if it did. */
  stoppedBy?: string;
}

const CONNECTIONS = 4;
/** Requests written at once on a connection (HTTP/1.1 pipelining): the client's share of the CPU stays small. */
const BATCH = 25;

function loopbackOf(address: AddressInfo): string {
  if (address.address === '0.0.0.0') return '127.0.0.1';
  if (address.address === '::') return '::1';
  return address.address;
}

interface Response {
  status: number;
  body: string;
}

/**
 * One keep-alive connection that sends pipelined GETs and splits the answers by their Content-Length. The
 * server's answers are known (Fastify sets Content-Length on every reply), so this is all the client it needs;
 * node:http's client would cost as much CPU as the server it warms, and under the pod's quota it shares that CPU.
 */
class PipelinedConnection {
  readonly #socket: Socket;
  readonly #host: string;
  #buffer = '';
  #waiting:
    | { resolve: (responses: Response[]) => void; reject: (error: Error) => void; count: number }
    | undefined;
  #responses: Response[] = [];

  private constructor(socket: Socket, host: string) {
    this.#socket = socket;
    this.#host = host;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => this.#read(chunk));
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error('the server closed the warm-up connection')));
  }

  static open(host: string, port: number): Promise<PipelinedConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => {
        socket.off('error', reject);
        resolve(new PipelinedConnection(socket, host));
      });
      socket.once('error', reject);
    });
  }

  /** Sends the GETs in one write and resolves with their responses, in order. */
  get(paths: readonly string[]): Promise<Response[]> {
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject, count: paths.length };
      this.#responses = [];
      let request = '';
      for (const path of paths)
        request += `GET ${path} HTTP/1.1\r\nhost: ${this.#host}\r\n${WARM_UP_HEADER}: ${token}\r\n\r\n`;
      this.#socket.write(request, 'latin1');
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #read(chunk: string): void {
    this.#buffer += chunk;
    for (;;) {
      const headEnd = this.#buffer.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const head = this.#buffer.slice(0, headEnd);
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      if (!length) {
        this.#fail(new Error('a warm-up response had no Content-Length'));
        return;
      }
      const end = headEnd + 4 + Number(length[1]);
      if (this.#buffer.length < end) return;
      const body = Buffer.from(this.#buffer.slice(headEnd + 4, end), 'latin1').toString('utf8');
      this.#buffer = this.#buffer.slice(end);
      this.#responses.push({ status: Number(head.slice(9, 12)), body });
      const waiting = this.#waiting;
      if (waiting && this.#responses.length === waiting.count) {
        this.#waiting = undefined;
        waiting.resolve(this.#responses);
      }
    }
  }

  #fail(error: Error): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(error);
  }
}

/**
 * Sends `requests` GETs to the listening server over pipelined loopback connections before readiness passes.
 * Under a fifth of a CPU, V8 needs thousands of requests to compile the request path; served to the first real
 * clients, that compilation halves the pod's throughput and lifts its P99 to the second range for ten seconds
 * or more, enough to fail a canary analysis on its first step. Each request goes through the whole stack (HTTP
 * parser, routing, validation, handler, serialisation), so what gets optimised is the code real requests run.
 * Never fails the start: an error or the time bound ends it early, and the caller logs that.
 */
export async function warmUp(
  address: AddressInfo,
  paths: WarmUpPaths,
  options: { requests: number; maxMs: number },
): Promise<WarmUpResult> {
  const startedAt = performance.now();
  const host = loopbackOf(address);
  const connections: PipelinedConnection[] = [];
  let sent = 0;
  let stoppedBy: string | undefined;
  warmingUp = true;
  try {
    for (let i = 0; i < CONNECTIONS; i++)
      connections.push(await PipelinedConnection.open(host, address.port));
    const first = connections[0] as PipelinedConnection;
    const cycle = await paths(async (path) => {
      sent += 1;
      return (await first.get([path]))[0] as Response;
    });
    if (cycle.length === 0) return { requests: sent, ms: Math.round(performance.now() - startedAt) };
    const deadline = startedAt + options.maxMs;
    const drive = async (connection: PipelinedConnection) => {
      while (sent < options.requests && stoppedBy === undefined) {
        if (performance.now() > deadline) {
          stoppedBy = `time bound of ${options.maxMs} ms`;
          return;
        }
        const batch: string[] = [];
        while (batch.length < BATCH && sent < options.requests) {
          batch.push(cycle[sent % cycle.length] as string);
          sent += 1;
        }
        await connection.get(batch);
      }
    };
    await Promise.all(connections.map(drive));
  } catch (error) {
    stoppedBy = (error as Error).message;
  } finally {
    warmingUp = false;
    for (const connection of connections) connection.close();
  }
  return {
    requests: sent,
    ms: Math.round(performance.now() - startedAt),
    ...(stoppedBy === undefined ? {} : { stoppedBy }),
  };
}
