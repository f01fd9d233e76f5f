import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import { emitInContext } from '../http/emit-in-context.ts';
import { isWarmUpRequest } from '../http/warm-up.ts';
import { RequestContext } from './request-context.ts';
import { KEPT_AS, type PresetIdGenerator, type RequestSampler } from './request-sampling.ts';
import { newSpanId, newTraceId, parseTraceparent } from './trace-context.ts';
import type { HttpTracing, SpanIds } from './tracing-hooks.ts';

/** Paths that are not traced: probes and scrapes would be most of the spans and tell nothing. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/startupz', '/metrics']);

/**
 * Bound on spans recorded after the fact: when every request fails (an outage, load shedding), recording them
 * all would add the cost of a sampled span to each and deepen the overload it is reporting.
 */
const KEPT_AFTER_THE_FACT_PER_SECOND = 100;

interface Traced {
  ids: SpanIds;
  method: string;
  path: string;
  /** The span recorded from the start; undefined while the request is not sampled. */
  span: Span | undefined;
  /** performance.now() at the start, for a span made after the fact. */
  startedAt: number;
  route: string | undefined;
  slow: boolean;
  /** Sent by the start-up warm-up: never sampled, never recorded after the fact, so it reaches no trace. */
  warmUp: boolean;
}

const TRACED = Symbol('user-service.server-span');
type TracedRequest = IncomingMessage & { [TRACED]?: Traced };

/**
 * Server spans made around Fastify's request handler. The sampling decision is made first: a sampled request gets
 * its span at once; an unsampled one only gets ids (for its log lines and outgoing traceparent) and a non-recording
 * span in its context, and if it ends as an error or slower than the slow-request threshold its server span is
 * recorded then, with its real start time, so failures and slow requests always reach the collector. The HTTP
 * instrumentation package patches node:http and computes a dozen attributes per request, sampled or not; this
 * keeps what the traces need (W3C parent, method, path, route, status, client address).
 */
export function httpServerSpans(sampler: RequestSampler, idGenerator: PresetIdGenerator): HttpTracing {
  const tracer = trace.getTracer('user-service.http');
  let keptSecond = 0;
  let keptInSecond = 0;

  function attributesOf(request: IncomingMessage, traced: Traced): Attributes {
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: traced.method,
      [ATTR_URL_PATH]: traced.path,
      [ATTR_URL_SCHEME]: 'http',
    };
    if (request.socket.remoteAddress) attributes[ATTR_CLIENT_ADDRESS] = request.socket.remoteAddress;
    return attributes;
  }

  function startSpan(request: IncomingMessage, traced: Traced, parent: Context, keptAs?: string): Span {
    const attributes = attributesOf(request, traced);
    if (keptAs !== undefined) attributes[KEPT_AS] = keptAs;
    if (traced.route !== undefined) attributes[ATTR_HTTP_ROUTE] = traced.route;
    const name = traced.route === undefined ? traced.method : `${traced.method} ${traced.route}`;
    const { traceId, spanId } = traced.ids;
    return idGenerator.withIds(traceId, spanId, () =>
      tracer.startSpan(
        name,
        {
          kind: SpanKind.SERVER,
          attributes,
          ...(keptAs === undefined ? {} : { startTime: traced.startedAt }),
        },
        parent,
      ),
    );
  }

  function mayKeep(): boolean {
    const second = Math.floor(performance.now() / 1000);
    if (second !== keptSecond) {
      keptSecond = second;
      keptInSecond = 0;
    }
    keptInSecond += 1;
    return keptInSecond <= KEPT_AFTER_THE_FACT_PER_SECOND;
  }

  function end(this: ServerResponse): void {
    const request = this.req as TracedRequest;
    const traced = request[TRACED];
    if (!traced) return;
    const failed = this.statusCode >= 500 || !this.writableFinished;
    let span = traced.span;
    if (span === undefined) {
      if (!(failed || traced.slow) || traced.warmUp || !mayKeep()) return;
      span = startSpan(
        request,
        traced,
        propagation.extract(ROOT_CONTEXT, request.headers),
        failed ? 'error' : 'slow',
      );
    }
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, this.statusCode);
    if (this.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    else if (!this.writableFinished)
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'response not completed' });
    span.end();
  }

  return {
    serve(request, response, handle) {
      const url = request.url ?? '/';
      const query = url.indexOf('?');
      const path = query === -1 ? url : url.slice(0, query);
      if (UNTRACED_PATHS.has(path)) {
        handle(request, response);
        return;
      }
      const caller = parseTraceparent(request.headers.traceparent);
      const traceId = caller?.traceId ?? newTraceId();
      const traced: Traced = {
        ids: { traceId, spanId: newSpanId() },
        method: request.method ?? 'GET',
        path,
        span: undefined,
        startedAt: performance.now(),
        route: undefined,
        slow: false,
        warmUp: isWarmUpRequest(request),
      };
      (request as TracedRequest)[TRACED] = traced;
      let active: Context;
      if (!traced.warmUp && (caller ? caller.sampled : sampler.samplesNewTrace(traceId))) {
        const parent = caller ? propagation.extract(ROOT_CONTEXT, request.headers) : ROOT_CONTEXT;
        traced.span = startSpan(request, traced, parent);
        active =
          parent === ROOT_CONTEXT
            ? new RequestContext(traceId, traced.ids.spanId, traced.span)
            : trace.setSpan(parent, traced.span);
      } else {
        // Only the ids: root-logger lines inside the request and outgoing calls still carry this trace.
        active = new RequestContext(traceId, traced.ids.spanId);
      }
      response.on('close', end); // 'close' comes once; on() spares once()'s wrapper
      // Node delivers a body from the socket, outside this context: the request's events are emitted inside it,
      // so the body parser, and the handler after it, stay inside the span.
      emitInContext(request, (emit) => context.with(active, emit));
      context.with(active, handle, undefined, request, response);
    },
    ids: (request) => (request as TracedRequest)[TRACED]?.ids,
    sampled: (request) => (request as TracedRequest)[TRACED]?.span !== undefined,
    requestCompleted(request, route, slow) {
      const traced = (request as TracedRequest)[TRACED];
      if (!traced) return;
      traced.route = route;
      traced.slow = slow;
      if (traced.span === undefined || route === undefined) return;
      traced.span.updateName(`${traced.method} ${route}`);
      traced.span.setAttribute(ATTR_HTTP_ROUTE, route);
    },
  };
}
