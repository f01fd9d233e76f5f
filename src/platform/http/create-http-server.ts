import type { RequestListener } from 'node:http';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type RawRequestDefaultExpression,
} from 'fastify';
import type { Bindings, ChildLoggerOptions, Logger } from 'pino';
import { Registry } from 'prom-client';
import type { ErrorObserver } from '../errors/problem-details.ts';
import type { HealthRegistry } from '../health/health-registry.ts';
import { registerHealthRoutes } from '../health/health-routes.ts';
import { LazyChildLogger } from '../logging/lazy-child-logger.ts';
import { currentRequestTraceId, handleWithLogFields } from '../logging/request-log-context.ts';
import { errorCounter } from '../metrics/error-metrics.ts';
import { HttpMetrics } from '../metrics/http-metrics.ts';
import { registerMetricsRoute } from '../metrics/metrics-route.ts';
import { newTraceId, traceIdFromTraceparent } from '../tracing/trace-context.ts';
import { type HttpTracing, TRACE_IDS_BOUND } from '../tracing/tracing-hooks.ts';
import { clientErrorHandler } from './client-error-handler.ts';
import { type FaultSettings, installFaultInjection } from './fault-injection.ts';
import { installProblemHandler } from './problem-handler.ts';
import { RequestLogController } from './request-log-controller.ts';
import type { RequestLogSettings } from './request-log-policy.ts';
import { responseSerializers } from './response-serializers.ts';
import { installStrictValidation } from './validation.ts';
import { markWarmUpRequest } from './warm-up.ts';

export interface HttpServerOptions {
  logger: Logger;
  health: HealthRegistry;
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  onError?: ErrorObserver;
  /** Requests slower than this are logged at WARN with `slow: true`; read per request so it can be reloaded. */
  slowRequestMs: () => number;
  /** Which ordinary requests get their log line (REQUEST_LOG), read per request; every request's when not given. */
  requestLog?: () => RequestLogSettings;
  /** Largest total size of request headers; Node answers 431 above it. */
  maxHeaderBytes?: number;
  /** Derives the request's trace id; the default follows `traceparent` or makes a new one. */
  traceId?: (headers: Record<string, string | string[] | undefined>) => string;
  /** The service's metrics registry, served at GET /metrics; the HTTP RED metrics and errors by kind join it. */
  metrics?: Registry;
  /** This instance is a canary right now (the HTTP metrics' `canary` label), read per request; default false. */
  canary?: () => boolean;
  /** Fault injection for monitoring tests, read per request (reloadable); off while both ratios are 0. */
  faults?: () => FaultSettings;
  /**
   * When tracing runs: each request runs in a server span, its request id is the span's trace id, and its logger
   * carries `trace_id` and `span_id`.
   */
  tracing?: HttpTracing;
}

const markTraceIdsBound = (child: FastifyBaseLogger) => {
  (child as unknown as Record<symbol, boolean>)[TRACE_IDS_BOUND] = true;
};

const defaultTraceId: NonNullable<HttpServerOptions['traceId']> = (headers) =>
  traceIdFromTraceparent(headers.traceparent) ?? newTraceId();

/**
 * A Fastify instance with everything a service on this platform shares: strict validation, problem+json errors,
 * one log line per request carrying the trace id, health probes, and when asked Prometheus metrics at /metrics,
 * trace-aware request ids and fault injection. Services add their routes and call listen.
 */
export async function createHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const tracing = options.tracing;
  const fallbackTraceId = options.traceId ?? defaultTraceId;
  const registry = options.metrics;
  const metrics = registry
    ? new HttpMetrics({ registry, canary: options.canary ?? (() => false) })
    : undefined;
  // The warm-up's requests run the metrics code too (so it is compiled when traffic comes), into a registry that
  // nothing serves.
  const warmUpMetrics = registry
    ? new HttpMetrics({ registry: new Registry(), canary: () => false })
    : undefined;
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new RequestLogController({
      slowRequestMs: options.slowRequestMs,
      ...(options.requestLog ? { policy: options.requestLog } : {}),
      ...(metrics && warmUpMetrics ? { metrics, warmUpMetrics } : {}),
      ...(tracing ? { tracing } : {}),
    }),
    genReqId: tracing
      ? (request) => tracing.ids(request)?.traceId ?? fallbackTraceId(request.headers)
      : (request) => currentRequestTraceId() ?? fallbackTraceId(request.headers),
    // A request's logger carries its ids as bindings (the trace id as the request id, and the span's ids when
    // traced), so every line written through it has them whatever async context Node runs it in (the response's
    // 'finish', for one); the mark tells the logger's mixin not to add them twice.
    childLoggerFactory: (
      logger: FastifyBaseLogger,
      bindings: Bindings,
      childOptions: ChildLoggerOptions,
      request: RawRequestDefaultExpression,
    ) => {
      const ids = tracing?.ids(request);
      return new LazyChildLogger(
        logger,
        ids === undefined ? bindings : { trace_id: ids.traceId, span_id: ids.spanId },
        childOptions,
        markTraceIdsBound,
      );
    },
    bodyLimit: options.bodyLimitBytes,
    requestTimeout: options.requestTimeoutMs,
    return503OnClosing: true,
    clientErrorHandler: clientErrorHandler(options.logger as FastifyBaseLogger),
    ...(options.maxHeaderBytes ? { http: { maxHeaderSize: options.maxHeaderBytes } } : {}),
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    schemaController: { compilersFactory: { buildSerializer: responseSerializers() } },
  });
  installStrictValidation(app);
  const countError = registry ? errorCounter(registry) : undefined;
  const onError = options.onError;
  installProblemHandler(
    app,
    countError && onError
      ? (kind, error) => {
          countError(kind);
          onError(kind, error);
        }
      : (countError ?? onError),
  );
  // Fastify's handler of the server's 'request' event runs inside the request's context: its server span when
  // tracing runs, else its trace id alone, so lines logged through any logger while it is handled carry the id.
  const [handle] = app.server.listeners('request') as RequestListener[];
  if (handle === undefined) throw new Error('the HTTP server has no request handler');
  app.server.removeListener('request', handle);
  app.server.on(
    'request',
    tracing
      ? (request, response) => {
          markWarmUpRequest(request);
          tracing.serve(request, response, handle);
        }
      : (request, response) => {
          markWarmUpRequest(request);
          handleWithLogFields({ trace_id: fallbackTraceId(request.headers) }, request, response, handle);
        },
  );
  if (options.faults) installFaultInjection(app, options.faults);

  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, jsonParser);

  // Clients must say what they send; text is not silently parsed as something else.
  app.removeContentTypeParser('text/plain');

  await registerHealthRoutes(app, options.health);
  if (registry) registerMetricsRoute(app, registry);
  return app;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Marks probe routes (health, /metrics): not logged per request, not in the HTTP metrics, never faulted. */
    probe?: boolean;
  }
}
