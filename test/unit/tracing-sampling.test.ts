import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { httpServerSpans } from '../../src/platform/tracing/http-server-spans.ts';
import { KEPT_AS, PresetIdGenerator, RequestSampler } from '../../src/platform/tracing/request-sampling.ts';
import { newSpanId, newTraceId, parseTraceparent } from '../../src/platform/tracing/trace-context.ts';
import type { HttpTracing, SpanIds } from '../../src/platform/tracing/tracing-hooks.ts';

const ROUTE = '/things/:id';
const hex = (bytes: number) =>
  Array.from({ length: bytes }, () =>
    Math.floor(Math.random() * 256)
      .toString(16)
      .padStart(2, '0'),
  ).join('');

interface Seen {
  ids: SpanIds | undefined;
  /** The span in the handler's context: its ids and whether it records. */
  active: { traceId: string; spanId: string; recording: boolean } | undefined;
}

/**
 * A node:http server whose handler runs through the server-span wrapper, like Fastify's does. The query says how
 * the request ends: `status`, `slow` (the log controller's slow decision) and `delay` ms before answering.
 */
async function startServer(tracing: HttpTracing) {
  const seen: Seen[] = [];
  const closed: Promise<unknown>[] = [];
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    // Registered after the wrapper's own 'close' listener: once it runs, the server span has ended.
    closed.push(once(response, 'close'));
    const query = new URL(request.url ?? '/', 'http://x').searchParams;
    const span = trace.getSpan(context.active());
    seen.push({
      ids: tracing.ids(request),
      active: span && {
        traceId: span.spanContext().traceId,
        spanId: span.spanContext().spanId,
        recording: span.isRecording(),
      },
    });
    setTimeout(
      () => {
        tracing.requestCompleted(request, ROUTE, query.get('slow') === 'true');
        response.statusCode = Number(query.get('status') ?? 200);
        response.end('{}');
      },
      Number(query.get('delay') ?? 0),
    );
  };
  const server: Server = createServer((request, response) => tracing.serve(request, response, handle));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    /** Sends one request and resolves once the server has ended its span. */
    async request(query: string, headers: Record<string, string> = {}): Promise<Seen> {
      const response = await fetch(`${base}/things/1?${query}`, { headers });
      await response.arrayBuffer();
      await Promise.all(closed);
      return seen.at(-1) as Seen;
    },
  };
}

function tracerWith(ratio: number) {
  const exporter = new InMemorySpanExporter();
  const sampler = new RequestSampler(ratio);
  const idGenerator = new PresetIdGenerator();
  const provider = new NodeTracerProvider({
    sampler,
    idGenerator,
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  return { exporter, provider, tracing: () => httpServerSpans(sampler, idGenerator) };
}

describe('Server spans with a root ratio of 0: only failed and slow requests are recorded, after the fact', () => {
  const { exporter, provider, tracing } = tracerWith(0);
  let client: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    provider.register();
    client = await startServer(tracing());
  });
  after(async () => {
    client.server.close();
    await provider.shutdown();
    trace.disable();
    context.disable();
  });

  it('records nothing for a fast success, yet gives it ids and a non-recording span in its context', async () => {
    exporter.reset();
    const seen = await client.request('status=200');
    assert.equal(exporter.getFinishedSpans().length, 0);
    assert.match(seen.ids?.traceId ?? '', /^[0-9a-f]{32}$/);
    assert.match(seen.ids?.spanId ?? '', /^[0-9a-f]{16}$/);
    assert.deepEqual(seen.active, { ...seen.ids, recording: false });
  });

  it('records the server span of a 5xx when it ends, with the ids its logs carried and its real start', async () => {
    exporter.reset();
    const seen = await client.request('status=503&delay=30');
    const [span, ...others] = exporter.getFinishedSpans();
    assert.equal(others.length, 0);
    assert.ok(span);
    assert.equal(span.spanContext().traceId, seen.ids?.traceId);
    assert.equal(span.spanContext().spanId, seen.ids?.spanId);
    assert.equal(span.parentSpanContext, undefined, 'a new trace: the span is its root');
    assert.equal(span.name, `GET ${ROUTE}`);
    assert.equal(span.attributes['http.route'], ROUTE);
    assert.equal(span.attributes['http.response.status_code'], 503);
    assert.equal(span.attributes[KEPT_AS], 'error');
    assert.equal(span.status.code, SpanStatusCode.ERROR);
    const durationMs = span.duration[0] * 1e3 + span.duration[1] / 1e6;
    assert.ok(durationMs >= 25, `the span starts when the request did (${durationMs} ms)`);
  });

  it('records a slow success as slow', async () => {
    exporter.reset();
    const seen = await client.request('status=200&slow=true');
    const [span] = exporter.getFinishedSpans();
    assert.equal(span?.spanContext().traceId, seen.ids?.traceId);
    assert.equal(span?.attributes[KEPT_AS], 'slow');
    assert.equal(span?.status.code, SpanStatusCode.UNSET);
  });

  it("keeps a caller's trace it did not sample: the failed request's span is a child of the caller's span", async () => {
    exporter.reset();
    const traceId = hex(16);
    const callerSpan = hex(8);
    const seen = await client.request('status=500', { traceparent: `00-${traceId}-${callerSpan}-00` });
    assert.equal(seen.ids?.traceId, traceId);
    const [span] = exporter.getFinishedSpans();
    assert.equal(span?.spanContext().traceId, traceId);
    assert.equal(span?.parentSpanContext?.spanId, callerSpan);
    assert.equal(span?.attributes[KEPT_AS], 'error');
  });

  it('records from the start what a sampled caller asks for, whatever the ratio', async () => {
    exporter.reset();
    const traceId = hex(16);
    const seen = await client.request('status=200', { traceparent: `00-${traceId}-${hex(8)}-01` });
    assert.deepEqual(seen.active, { ...seen.ids, recording: true });
    const [span] = exporter.getFinishedSpans();
    assert.equal(span?.spanContext().traceId, traceId);
    assert.equal(span?.spanContext().spanId, seen.ids?.spanId);
    assert.equal(span?.attributes[KEPT_AS], undefined);
  });
});

describe('Request sampler', () => {
  it('decides new traces by the same trace-id ratio as the SDK, and always records spans kept after the fact', () => {
    const none = new RequestSampler(0);
    const all = new RequestSampler(1);
    const traceId = hex(16);
    assert.equal(none.samplesNewTrace(traceId), false);
    assert.equal(all.samplesNewTrace(traceId), true);
    const tenth = new RequestSampler(0.1);
    let sampled = 0;
    for (let i = 0; i < 10_000; i++) if (tenth.samplesNewTrace(hex(16))) sampled += 1;
    assert.ok(sampled > 800 && sampled < 1_200, `${sampled} of 10 000 at 0.1`);
    const kept = none.shouldSample(context.active(), traceId, 'GET', 1, { [KEPT_AS]: 'error' });
    assert.equal(kept.decision, 2);
  });

  it('reads the sampled flag of a traceparent and refuses malformed ones', () => {
    const traceId = hex(16);
    const spanId = hex(8);
    assert.deepEqual(parseTraceparent(`00-${traceId}-${spanId}-01`), { traceId, spanId, sampled: true });
    assert.equal(parseTraceparent(`00-${traceId}-${spanId}-00`)?.sampled, false);
    assert.equal(parseTraceparent(`00-${'0'.repeat(32)}-${spanId}-01`), undefined);
    assert.equal(parseTraceparent('garbage'), undefined);
    assert.equal(parseTraceparent(undefined), undefined);
  });
});

describe('trace and span ids', () => {
  it('are lowercase hex of W3C length, distinct across many pool refills', () => {
    const traceIds = new Set<string>();
    const spanIds = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const traceId = newTraceId();
      const spanId = newSpanId();
      assert.match(traceId, /^[0-9a-f]{32}$/);
      assert.match(spanId, /^[0-9a-f]{16}$/);
      assert.notEqual(traceId, '0'.repeat(32));
      assert.notEqual(spanId, '0'.repeat(16));
      traceIds.add(traceId);
      spanIds.add(spanId);
    }
    assert.equal(traceIds.size, 20_000);
    assert.equal(spanIds.size, 20_000);
  });
});
