import type { Logger } from 'pino';

/**
 * What the HTTP server needs from tracing, without loading it: the server span is made by the HTTP
 * instrumentation; the server names it after the route and takes its trace id as the request id.
 */
export interface HttpTracing {
  /** The trace id of the span the current request runs in; undefined when the request is not traced. */
  activeTraceId(): string | undefined;
  /** Names the current server span after the route template (`GET /users/:id`) and sets `http.route`. */
  routeMatched(route: string): void;
}

export interface Tracing {
  http: HttpTracing;
  /** For the logger: `trace_id` and `span_id` of the active span, so every line inside a request carries them. */
  logFields(): Record<string, string>;
  /** Export failures and dropped spans become WARN lines (at most one a minute), once the logger exists. */
  reportProblemsTo(logger: Logger): void;
  /** Exports what is still buffered and stops, within a bound even when the collector is gone. */
  shutdown(): Promise<void>;
}
