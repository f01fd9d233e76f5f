import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { HttpMetrics } from '../metrics/http-metrics.ts';
import type { HttpTracing } from '../tracing/tracing-hooks.ts';
import { LOG_EVERY_REQUEST, logsOrdinaryRequest, type RequestLogSettings } from './request-log-policy.ts';
import { isWarmUpRequest } from './warm-up.ts';

export interface RequestLogOptions {
  /** Read per request, so a reloaded threshold applies at once. Above it the line is a WARN with `slow: true`. */
  slowRequestMs: () => number;
  /** Fed from the same measurement as the log line, so the slow counter and the slow lines always agree. */
  metrics?: HttpMetrics;
  /** Where the start-up warm-up's requests are counted instead: a registry nothing serves. */
  warmUpMetrics?: HttpMetrics;
  /** Names the request's server span after its route and hands it the slow decision; the span is not yet ended. */
  tracing?: HttpTracing;
  /** Which ordinary requests get their line, read per request (reloadable); every request's when not given. */
  policy?: () => RequestLogSettings;
}

/**
 * The one place a finished request is accounted for: one log line (method, route template, status, duration and,
 * via the request logger's bindings, the trace id) and the HTTP metrics, from one duration measurement and one
 * slow decision; and the server span gets its route name. Fastify's default is two lines per request with full request and response objects, which costs a
 * third of the throughput. Probe routes (health, /metrics) are neither logged nor counted; the start-up warm-up's
 * requests are counted only in a registry nothing serves, and not logged. Lines of ordinary
 * requests follow the REQUEST_LOG policy; failures, slow requests and answers >= 400 are always written.
 */
export class RequestLogController extends LogController {
  readonly #slowRequestMs: () => number;
  readonly #metrics: HttpMetrics | undefined;
  readonly #warmUpMetrics: HttpMetrics | undefined;
  readonly #tracing: HttpTracing | undefined;
  readonly #policy: () => RequestLogSettings;

  constructor(options: RequestLogOptions) {
    super({
      requestIdLogLabel: 'trace_id',
      disableRequestLogging: (request) => request.routeOptions?.config?.probe === true,
    });
    this.#slowRequestMs = options.slowRequestMs;
    this.#metrics = options.metrics;
    this.#warmUpMetrics = options.warmUpMetrics;
    this.#tracing = options.tracing;
    this.#policy = options.policy ?? (() => LOG_EVERY_REQUEST);
  }

  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    (isWarmUpRequest(request.raw) ? this.#warmUpMetrics : this.#metrics)?.requestStarted(reply);
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    // routeOptions builds a new object on every read: read it once.
    const routeOptions = request.routeOptions;
    const config = routeOptions.config;
    if (config?.probe === true) return;
    const elapsedMs = reply.elapsedTime;
    const slow = elapsedMs > this.#slowRequestMs();
    this.#tracing?.requestCompleted(request.raw, routeOptions.url, slow);
    const warmUp = isWarmUpRequest(request.raw);
    (warmUp ? this.#warmUpMetrics : this.#metrics)?.requestCompleted(
      request,
      config,
      routeOptions.url,
      reply.statusCode,
      elapsedMs / 1000,
      slow,
    );
    const status = reply.statusCode;
    if (warmUp) return;
    if (
      !(error || slow || status >= 400) &&
      !logsOrdinaryRequest(this.#policy(), this.#tracing?.sampled(request.raw) ?? false)
    )
      return;
    const fields: Record<string, unknown> = {
      method: request.method,
      route: routeOptions.url ?? 'unmatched',
      status,
      duration_ms: Math.round(elapsedMs * 100) / 100,
    };
    if (error) {
      reply.log.warn({ ...fields, error }, 'request failed while sending the response');
    } else if (slow) {
      reply.log.warn({ ...fields, slow: true }, 'slow request completed');
    } else {
      reply.log.info(fields, 'request completed');
    }
  }
}
