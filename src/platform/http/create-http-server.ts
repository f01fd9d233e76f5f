import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ErrorObserver } from '../errors/problem-details.ts';
import type { HealthRegistry } from '../health/health-registry.ts';
import { registerHealthRoutes } from '../health/health-routes.ts';
import { newTraceId, traceIdFromTraceparent } from '../tracing/trace-context.ts';
import { installProblemHandler } from './problem-handler.ts';
import { RequestLogController } from './request-log-controller.ts';
import { installStrictValidation } from './validation.ts';

export interface HttpServerOptions {
  logger: Logger;
  health: HealthRegistry;
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  onError?: ErrorObserver;
  /** Requests slower than this are logged at WARN with `slow: true`; read per request so it can be reloaded. */
  slowRequestMs: () => number;
  /** Largest total size of request headers; Node answers 431 above it. */
  maxHeaderBytes?: number;
  /** Derives the request's trace id; the default follows `traceparent` or makes a new one. */
  traceId?: (headers: Record<string, string | string[] | undefined>) => string;
}

const defaultTraceId: NonNullable<HttpServerOptions['traceId']> = (headers) =>
  traceIdFromTraceparent(headers.traceparent) ?? newTraceId();

/**
 * A Fastify instance with everything a service on this platform shares: strict validation, problem+json errors,
 * one log line per request carrying the trace id, health probes. Services add their routes and call listen.
 */
export async function createHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const traceId = options.traceId ?? defaultTraceId;
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new RequestLogController({ slowRequestMs: options.slowRequestMs }),
    genReqId: (request) => traceId(request.headers),
    bodyLimit: options.bodyLimitBytes,
    requestTimeout: options.requestTimeoutMs,
    return503OnClosing: true,
    ...(options.maxHeaderBytes ? { http: { maxHeaderSize: options.maxHeaderBytes } } : {}),
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  });
  installStrictValidation(app);
  installProblemHandler(app, options.onError);

  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, jsonParser);

  // Clients must say what they send; text is not silently parsed as something else.
  app.removeContentTypeParser('text/plain');

  await registerHealthRoutes(app, options.health);
  return app;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Marks probe routes so they are not logged per request. */
    probe?: boolean;
  }
}
