import { EventEmitter } from 'node:events';
import { openSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ProxyTracerProvider, trace } from '@opentelemetry/api';
import type { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import pino from 'pino';
import { Registry } from 'prom-client';
import { loggerOptions } from '../src/platform/logging/logger.ts';
import { handleWithLogFields } from '../src/platform/logging/request-log-context.ts';
import { HttpMetrics } from '../src/platform/metrics/http-metrics.ts';
import { startTracing } from '../src/platform/tracing/start-tracing.ts';
import { COST_PARTS, type CostPart } from './lib/costs.ts';
import { median } from './lib/stats.ts';

/**
 * One part of a request's cost, measured in a process of its own (the tracing SDK registers globals, so each
 * sampling ratio needs a fresh process): `node bench/cost-probe.ts <part> [otlpEndpoint]` prints one JSON line
 * `{ part, ns, baselineNs }` (and `exportNs` for tracing-sampled, which needs an OTLP receiver at the endpoint: the
 * benchmark passes its sink). Request-path parts run on stand-in request/response objects, interleaved with a
 * baseline loop that makes and closes the same objects, so the difference is the part's own work. Driven by
 * bench/lib/costs.ts.
 */
const PARTS: readonly CostPart[] = COST_PARTS.map(([part]) => part);

const ROUNDS = 7;
const PER_ROUND = 20_000;
/** Spans queued per export round: below the queue bound set for it, so the processor drops none. */
const SPANS_PER_EXPORT_ROUND = 1_000;

interface Pair {
  request: IncomingMessage;
  response: ServerResponse;
}

function pair(): Pair {
  const request = Object.assign(new EventEmitter(), {
    url: '/users/0b9f7a52-3c1e-4f0e-9a8c-6f1d2b3c4d5e',
    method: 'GET',
    headers: { host: '127.0.0.1:8080', accept: '*/*', 'user-agent': 'wrk' },
    socket: { remoteAddress: '127.0.0.1' },
  });
  const response = Object.assign(new EventEmitter(), {
    statusCode: 200,
    writableFinished: true,
    req: request,
  });
  return { request, response } as unknown as Pair;
}

let sink = 0;
const handle = (request: IncomingMessage) => {
  sink += request.url?.length ?? 0;
};

/** The baseline: what every loop does besides the part (make the pair, hand the request on, close). */
const baseline = (p: Pair) => handle(p.request);

/** ns per iteration of `count` requests through `body`, each on a new pair closed afterwards. */
function timeLoop(count: number, body: (p: Pair) => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const p = pair();
    body(p);
    p.response.emit('close');
  }
  return Number(process.hrtime.bigint() - start) / count;
}

/** ns per iteration of `part` and of the baseline, each the median of interleaved rounds. */
function interleaved(part: (p: Pair) => void): { ns: number; baselineNs: number } {
  const partNs: number[] = [];
  const baseNs: number[] = [];
  timeLoop(PER_ROUND, part); // compiled before it is measured
  timeLoop(PER_ROUND, baseline);
  for (let round = 0; round < ROUNDS; round++) {
    baseNs.push(timeLoop(PER_ROUND, baseline));
    partNs.push(timeLoop(PER_ROUND, part));
  }
  return { ns: median(partNs), baselineNs: median(baseNs) };
}

async function startProbeTracing(endpoint: string, sampleRatio: number) {
  const tracing = startTracing({ endpoint, sampleRatio, service: 'bench', version: 'bench', canary: false });
  await tracing.prepareForRequests();
  const traced = ({ request, response }: Pair) => {
    tracing.http.serve(request, response, handle);
    tracing.http.requestCompleted(request, '/users/:id', false);
  };
  return { tracing, traced };
}

async function unsampled(endpoint: string) {
  const { tracing, traced } = await startProbeTracing(endpoint, 0);
  const figures = interleaved(traced);
  await tracing.shutdown();
  return figures;
}

/**
 * A sampled request: its in-request part (span start, attributes, end, queueing; wall time on the main thread) and,
 * separately, the export of its span (transform, encode, HTTP to the sink, garbage collection): process CPU of
 * every thread while the queued spans are flushed, per span.
 */
async function sampled(endpoint: string) {
  process.env.OTEL_BSP_MAX_QUEUE_SIZE = String(SPANS_PER_EXPORT_ROUND * 2);
  const { tracing, traced } = await startProbeTracing(endpoint, 1);
  const provider = (trace.getTracerProvider() as ProxyTracerProvider).getDelegate() as NodeTracerProvider;
  const partNs: number[] = [];
  const baseNs: number[] = [];
  const exportNs: number[] = [];
  for (let round = 0; round <= ROUNDS * 3; round++) {
    const base = timeLoop(SPANS_PER_EXPORT_ROUND, baseline);
    const part = timeLoop(SPANS_PER_EXPORT_ROUND, traced);
    const before = process.cpuUsage();
    await provider.forceFlush();
    const flushed = process.cpuUsage(before);
    if (round < 3) continue; // compiling, and the first export opens the connection
    baseNs.push(base);
    partNs.push(part);
    exportNs.push(((flushed.user + flushed.system) * 1000) / SPANS_PER_EXPORT_ROUND);
  }
  await tracing.shutdown();
  return { ns: median(partNs), baselineNs: median(baseNs), exportNs: median(exportNs) };
}

function httpMetrics() {
  const metrics = new HttpMetrics({ registry: new Registry(), canary: () => false });
  const config = {};
  return interleaved(({ request, response }) => {
    metrics.requestStarted({ raw: response } as never);
    metrics.requestCompleted(request as never, config, '/users/:id', 200, 0.0012, false);
  });
}

function logContext() {
  return interleaved(({ request, response }) => {
    handleWithLogFields({ trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' }, request, response, handle);
  });
}

/** One `request completed` line through a request's child logger, serialised and written to /dev/null. */
function logLine() {
  const destination = pino.destination({ fd: openSync('/dev/null', 'w'), sync: false, minLength: 4096 });
  const logger = pino(loggerOptions({ service: 'bench', version: 'bench', level: 'info' }), destination);
  return interleaved(() => {
    logger
      .child({ trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_id: '00f067aa0ba902b7' })
      .info({ method: 'GET', route: '/users/:id', status: 200, duration_ms: 1.23 }, 'request completed');
  });
}

async function measure(part: CostPart, endpoint: string) {
  switch (part) {
    case 'log-context':
      return logContext();
    case 'tracing-unsampled':
      return unsampled(endpoint);
    case 'tracing-sampled':
      return sampled(endpoint);
    case 'http-metrics':
      return httpMetrics();
    case 'log-line':
      return logLine();
  }
}

if (import.meta.main) {
  const [part, endpoint = 'http://127.0.0.1:4318'] = process.argv.slice(2);
  if (!PARTS.includes(part as CostPart)) {
    console.error(`usage: node bench/cost-probe.ts <${PARTS.join('|')}> [otlp endpoint]`);
    process.exitCode = 2;
  } else {
    const figures = await measure(part as CostPart, endpoint);
    console.log(JSON.stringify({ part, ...figures, sink }));
  }
}
