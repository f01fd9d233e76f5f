import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type Attributes,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { OtlpJsonBatch, otlpJsonSpan } from '../../src/platform/tracing/otlp-json-spans.ts';

const REMOTE_PARENT = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: new TraceState('vendor=value,other=1'),
};

/** Spans of every shape the encoder has a branch for, ended through a real tracer provider. */
function endedSpans(): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'encoder-test', canary: false, 'host.cpus': 2 }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('encoder-test.http', '1.2.3');
  const other = provider.getTracer('encoder-test.sql');

  const attributes: Attributes = {
    'a.string': 'quote " backslash \\ newline \n unicode é ✓ 😀',
    'an.int': 42,
    'a.negative': -7,
    'a.double': 1.5,
    'a.bool': true,
    strings: ['x', 'y'],
    numbers: [1, 2.5],
    bools: [false, true],
  };
  const server = tracer.startSpan(
    'GET /users/:id',
    { kind: SpanKind.SERVER, attributes },
    trace.setSpanContext(ROOT_CONTEXT, REMOTE_PARENT),
  );
  server.addEvent('no attributes');
  server.addEvent('with attributes', { 'event.size': 3, 'event.kind': 'x' }, [1_700_000_000, 5]);
  server.addLink({ context: { ...REMOTE_PARENT, spanId: '00f067aa0ba902b7' }, attributes: { linked: true } });
  server.setStatus({ code: SpanStatusCode.ERROR, message: 'it "failed"' });
  server.end();

  const child = tracer.startSpan('child', { kind: SpanKind.CLIENT }, trace.setSpan(ROOT_CONTEXT, server));
  child.setStatus({ code: SpanStatusCode.OK });
  child.end();

  other.startSpan('select', { kind: SpanKind.INTERNAL, startTime: [0, 123] }).end([0, 456]);
  tracer.startSpan('root').end();
  return memory.getFinishedSpans();
}

function parsed(bytes: Uint8Array): unknown {
  return JSON.parse(Buffer.from(bytes).toString('utf8'));
}

describe('OTLP JSON written span by span', () => {
  it('writes what the OpenTelemetry JSON serialiser writes for the same spans, grouped by scope', () => {
    const spans = endedSpans();
    const batch = new OtlpJsonBatch();
    for (const span of spans) batch.add(span);
    assert.equal(batch.size, spans.length);
    const ours = parsed(batch.take()) as { resourceSpans: { scopeSpans: { spans: unknown[] }[] }[] };
    const library = parsed(JsonTraceSerializer.serializeRequest(spans) as Uint8Array);
    assert.deepStrictEqual(ours, library);
    assert.deepEqual(
      ours.resourceSpans[0]?.scopeSpans.map((scope) => scope.spans.length),
      [3, 1],
      'spans of one scope under one scopeSpans entry',
    );
  });

  it('keeps each span whole: one span parses as the library encodes it', () => {
    const [server] = endedSpans();
    assert.ok(server);
    const library = parsed(JsonTraceSerializer.serializeRequest([server]) as Uint8Array) as {
      resourceSpans: { scopeSpans: { spans: unknown[] }[] }[];
    };
    assert.deepStrictEqual(
      JSON.parse(otlpJsonSpan(server)),
      library.resourceSpans[0]?.scopeSpans[0]?.spans[0],
    );
  });

  it('starts empty after take(), and grows past its first buffer without losing a byte', () => {
    const spans = endedSpans();
    const batch = new OtlpJsonBatch();
    for (const span of spans) batch.add(span);
    batch.take();
    assert.equal(batch.size, 0);
    assert.deepEqual(parsed(batch.take()), { resourceSpans: [] });

    // ~1 KB each: well past the 16 KB a scope's buffer starts with.
    const many = Array.from({ length: 200 }, () => spans).flat();
    for (const span of many) batch.add(span);
    const body = batch.take();
    assert.deepStrictEqual(parsed(body), parsed(JsonTraceSerializer.serializeRequest(many) as Uint8Array));
    assert.equal(body.byteOffset, 0);
    assert.equal(body.byteLength, body.buffer.byteLength, 'a buffer of its own, transferable to the worker');
  });
});
