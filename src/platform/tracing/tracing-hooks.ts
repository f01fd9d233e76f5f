import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/** Set on a request's child logger whose bindings already carry `trace_id` and `span_id`. */
export const TRACE_IDS_BOUND = Symbol.for('user-service.trace-ids-bound');

export interface SpanIds {
  traceId: string;
  spanId: string;
}

/**
 * What the HTTP server needs from tracing, without loading it. The server span wraps Fastify's request
 * handler; the request id, the request logger's bindings and the span name follow from it.
 */
export interface HttpTracing {
  /** Runs the request through `handle` inside a new server span (a child of an incoming `traceparent`). */
  serve(
    request: IncomingMessage,
    response: ServerResponse,
    handle: (request: IncomingMessage, response: ServerResponse) => void,
  ): void;
  /** The ids of the request's server span; undefined for requests that are not traced (probes, /metrics). */
  ids(request: IncomingMessage): SpanIds | undefined;
  /** The request's trace is recorded from its start (sampled by the ratio or by its caller). */
  sampled(request: IncomingMessage): boolean;
  /**
   * The response is done, its span not yet ended: names the span after the route template (`GET /users/:id`),
   * sets `http.route`, and says whether the request was slow, which keeps the span of an unsampled request.
   */
  requestCompleted(request: IncomingMessage, route: string | undefined, slow: boolean): void;
}

export interface Tracing {
  http: HttpTracing;
  /**
   * The logger's mixin: `trace_id` and `span_id` of the active span, for lines written through loggers that do
   * not carry them as bindings already (the root logger used inside a request).
   */
  logFields(mergeObject: object, level: number, logger: object): Record<string, string>;
  /**
   * Loads what the first requests would otherwise wait for: client spans for outgoing fetch/undici calls (only
   * made inside a request's trace) and the OTLP exporter. Runs once the server listens, before readiness passes.
   */
  prepareForRequests(): Promise<void>;
  /** Export failures and dropped spans become WARN lines (at most one a minute), once the logger exists. */
  reportProblemsTo(logger: Logger): void;
  /** Exports what is still buffered and stops, within a bound even when the collector is gone. */
  shutdown(): Promise<void>;
}
