import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createContextKey, ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { RequestContext } from '../../src/platform/tracing/request-context.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

describe('the context of a request', () => {
  it('holds a non-recording span with the request ids, as the API would have made', () => {
    const context = new RequestContext(TRACE_ID, SPAN_ID);
    const span = trace.getSpan(context);
    assert.ok(span, 'trace.getSpan finds the span through the API key');
    assert.deepEqual(span.spanContext(), { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.NONE });
    assert.equal(span.isRecording(), false);
    assert.equal(trace.getSpan(context), span, 'made once, at the first look');
    const api = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: TraceFlags.NONE,
    });
    assert.deepEqual(trace.getSpanContext(context), trace.getSpanContext(api));
  });

  it('gives outgoing calls a traceparent of this trace, not sampled', () => {
    const carrier: Record<string, string> = {};
    new W3CTraceContextPropagator().inject(new RequestContext(TRACE_ID, SPAN_ID), carrier, {
      set: (c, key, value) => {
        c[key] = value;
      },
    });
    assert.equal(carrier.traceparent, `00-${TRACE_ID}-${SPAN_ID}-00`);
  });

  it('keeps the span when a value is set or deleted, and answers other keys with nothing', () => {
    const key = createContextKey('test key');
    const context = new RequestContext(TRACE_ID, SPAN_ID);
    assert.equal(context.getValue(key), undefined);
    const withValue = context.setValue(key, 42);
    assert.equal(withValue.getValue(key), 42);
    assert.equal(trace.getSpanContext(withValue)?.spanId, SPAN_ID);
    const without = withValue.deleteValue(key);
    assert.equal(without.getValue(key), undefined);
    assert.equal(trace.getSpanContext(without)?.traceId, TRACE_ID);
    const child = trace.setSpan(
      context,
      trace.wrapSpanContext({ traceId: TRACE_ID, spanId: 'a'.repeat(16), traceFlags: 0 }),
    );
    assert.equal(trace.getSpanContext(child)?.spanId, 'a'.repeat(16), 'a child span replaces it');
  });

  it("holds a sampled request's recording span as it is, and propagates it as sampled", async () => {
    const provider = new NodeTracerProvider();
    const span = provider.getTracer('test').startSpan('GET /users/:id');
    const { traceId, spanId } = span.spanContext();
    const context = new RequestContext(traceId, spanId, span);
    assert.equal(trace.getSpan(context), span);
    assert.equal(trace.getSpan(context)?.isRecording(), true);
    const carrier: Record<string, string> = {};
    new W3CTraceContextPropagator().inject(context, carrier, {
      set: (c, key, value) => {
        c[key] = value;
      },
    });
    assert.equal(carrier.traceparent, `00-${traceId}-${spanId}-01`);
    assert.equal(trace.getSpan(context.setValue(createContextKey('other'), 1)), span);
    span.end();
    await provider.shutdown();
  });
});
