import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { promisify } from 'node:util';
import type { LoadSpec } from './load.ts';
import { percentile } from './stats.ts';

const run = promisify(execFile);

/**
 * A constant-rate (open-loop) load generator with coordinated omission corrected, as wrk2 does: request i is due
 * at start + i/rate whatever happened before it, and its latency runs from that due time, not from when a free
 * connection finally sent it. A server that stalls for 100 ms therefore shows every request it held up, not one.
 * HTTP/1.1 keep-alive, no pipelining; answers with a body must carry Content-Length (all contenders' do).
 */
export interface OpenLoopSettings {
  url: string;
  /** Requests per second to schedule. */
  rate: number;
  durationS: number;
  connections: number;
  spec: LoadSpec;
}

export interface OpenLoopResult {
  target_rate: number;
  /** Completed responses per second, from the first due time to the last answer (or the window, if later). */
  req_per_s: number;
  sent: number;
  completed: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  /** Non-2xx responses, socket errors and requests still unanswered when the run ended. */
  failed: number;
  status_5xx: number;
  status_503: number;
  /** P99 of how late the generator itself sent requests that had an idle connection: its own accuracy. */
  generator_lag_p99_ms: number;
}

function requestFor(spec: LoadSpec, host: string, n: number): Buffer {
  if (spec.scenario === 'get-by-id')
    return Buffer.from(`GET /users/${spec.ids[n % spec.ids.length]} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  if (spec.scenario === 'list') return Buffer.from(`GET /users?limit=20 HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  const body = JSON.stringify({ name: `Rate User ${n}`, email: `${spec.emailPrefix}${n}@bench.example` });
  return Buffer.from(
    `POST /users HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

interface Connection {
  socket: Socket;
  buffer: Buffer;
  /** Due time of the request in flight on it, or null when idle. */
  due: number | null;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** Splits complete responses off the front of a buffer; returns their statuses and the unread rest. */
export function takeResponses(buffer: Buffer): { statuses: number[]; rest: Buffer } {
  const statuses: number[] = [];
  let rest = buffer;
  for (;;) {
    const end = rest.indexOf(HEADER_END);
    if (end === -1) break;
    const head = rest.toString('latin1', 0, end);
    // Without Content-Length only bodiless answers occur here (Node's own 408 to an idle socket, then close).
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const total = end + HEADER_END.length + Number(length?.[1] ?? 0);
    if (rest.length < total) break;
    statuses.push(Number(head.slice(9, 12)));
    rest = rest.subarray(total);
  }
  return { statuses, rest };
}

export async function openLoop(settings: OpenLoopSettings): Promise<OpenLoopResult> {
  const target = new URL(settings.url);
  const interval = 1000 / settings.rate;
  const total = Math.floor(settings.rate * settings.durationS);
  const latencies = new Float64Array(total);
  const lags: number[] = [];
  let completed = 0;
  let failed = 0;
  let status5xx = 0;
  let status503 = 0;
  let sent = 0;
  let next = 0;
  const backlog: number[] = [];
  const idle: Connection[] = [];
  let start = 0;
  let lastCompletion = 0;
  /** Set before the sockets are destroyed, so their close does not open replacements. */
  let finished = false;

  const send = (connection: Connection, due: number) => {
    connection.due = due;
    connection.socket.write(requestFor(settings.spec, target.host, sent));
    sent += 1;
  };
  /** Status 0: the connection closed with the request unanswered. */
  const finish = (connection: Connection, status: number) => {
    const due = connection.due;
    connection.due = null;
    if (due === null) return;
    lastCompletion = performance.now();
    latencies[completed] = lastCompletion - due;
    completed += 1;
    if (status < 200 || status > 299) failed += 1;
    if (status >= 500) status5xx += 1;
    if (status === 503) status503 += 1;
    const waiting = backlog.shift();
    if (waiting !== undefined) send(connection, waiting);
    else idle.push(connection);
  };
  const open = (): Promise<Connection> =>
    new Promise((resolve, reject) => {
      const socket = connect({ host: target.hostname, port: Number(target.port), noDelay: true });
      const connection: Connection = { socket, buffer: Buffer.alloc(0), due: null };
      socket.once('connect', () => resolve(connection));
      socket.once('error', reject);
      socket.on('data', (chunk: Buffer) => {
        const { statuses, rest } = takeResponses(
          connection.buffer.length === 0 ? chunk : Buffer.concat([connection.buffer, chunk]),
        );
        connection.buffer = rest;
        for (const status of statuses) finish(connection, status);
      });
      socket.on('close', () => {
        // A closed connection fails its request in flight and is replaced, so the offered rate holds.
        if (connection.due !== null) finish(connection, 0);
        const at = idle.indexOf(connection);
        if (at !== -1) idle.splice(at, 1);
        if (!finished)
          open().then(
            (replacement) => {
              connections.push(replacement);
              const waiting = backlog.shift();
              if (waiting !== undefined) send(replacement, waiting);
              else idle.push(replacement);
            },
            () => {},
          );
      });
    });
  const connections: Connection[] = [];
  for (const c of await Promise.all(Array.from({ length: settings.connections }, open))) {
    connections.push(c);
    idle.push(c);
  }

  start = performance.now();
  await new Promise<void>((resolve) => {
    // A hard stop, whatever the sockets do: the run never outlasts its window by more than the grace period.
    const hardStop = setTimeout(
      () => {
        process.stderr.write(
          `open-loop: window overrun (next ${next}/${total}, sent ${sent}, completed ${completed}, backlog ${backlog.length}, idle ${idle.length})\n`,
        );
        next = total;
        resolve();
      },
      settings.durationS * 1000 + 5000,
    );
    const tick = () => {
      const now = performance.now();
      while (next < total && start + next * interval <= now) {
        const due = start + next * interval;
        next += 1;
        const connection = idle.pop();
        if (connection) {
          lags.push(now - due);
          send(connection, due);
        } else backlog.push(due);
      }
      if (next >= total) {
        clearTimeout(hardStop);
        resolve();
        return;
      }
      const wait = start + next * interval - performance.now();
      // Spinning through setImmediate keeps send times within a fraction of a millisecond of their due time;
      // longer gaps sleep, leaving the core to the socket callbacks.
      if (wait > 2) setTimeout(tick, wait - 1);
      else setImmediate(tick);
    };
    tick();
  });
  // Stragglers get a grace period; whatever is still unanswered after it counts as failed.
  const grace = performance.now() + 5000;
  while ((completed < sent || backlog.length > 0) && performance.now() < grace)
    await new Promise((resolve) => setTimeout(resolve, 10));
  const unanswered = total - completed;
  // Throughput over the whole time the answers took: a server slower than the offered rate shows its own rate.
  const window = (Math.max(lastCompletion, start + settings.durationS * 1000) - start) / 1000;
  finished = true;
  for (const c of connections) c.socket.destroy();
  const measured = Array.from(latencies.subarray(0, completed)).sort((a, b) => a - b);
  const round3 = (v: number) => Math.round(v * 1000) / 1000;
  return {
    target_rate: settings.rate,
    req_per_s: Math.round(completed / window),
    sent,
    completed,
    p50_ms: round3(percentile(measured, 50)),
    p99_ms: round3(percentile(measured, 99)),
    p999_ms: round3(percentile(measured, 99.9)),
    max_ms: round3(measured.at(-1) ?? Number.NaN),
    failed: failed + unanswered,
    status_5xx: status5xx,
    status_503: status503,
    generator_lag_p99_ms: round3(
      percentile(
        lags.sort((a, b) => a - b),
        99,
      ),
    ),
  };
}

const RESULT_MARK = 'OPEN_LOOP_RESULT ';

/** Runs the generator in its own process, pinned to the load core, so the runner's work does not delay sends. */
export async function openLoopProcess(settings: OpenLoopSettings, cpu?: number): Promise<OpenLoopResult> {
  const args = [import.meta.filename, JSON.stringify(settings)];
  const [file, argv] =
    cpu === undefined
      ? [process.execPath, args]
      : ['taskset', ['-c', String(cpu), process.execPath, ...args]];
  const { stdout } = await run(file, argv, {
    timeout: (settings.durationS + 30) * 1000,
    maxBuffer: 1 << 20,
  });
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
  if (!line) throw new Error(`the open-loop generator printed no result: ${stdout.slice(-500)}`);
  return JSON.parse(line.slice(RESULT_MARK.length)) as OpenLoopResult;
}

if (import.meta.main) {
  const settings = JSON.parse(process.argv[2] ?? '{}') as OpenLoopSettings;
  console.log(`${RESULT_MARK}${JSON.stringify(await openLoop(settings))}`);
}
