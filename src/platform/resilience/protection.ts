import rateLimit from '@fastify/rate-limit';
import underPressure, {
  type FastifyUnderPressureOptions as UnderPressureOptions,
} from '@fastify/under-pressure';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { Type } from 'typebox';
import { BusinessError, DependencyError } from '../errors/app-error.ts';
import { PROBLEM_CONTENT_TYPE, toProblem } from '../errors/problem-details.ts';
import { isWarmUpRequest } from '../http/warm-up.ts';
import { errorCounter } from '../metrics/error-metrics.ts';
import { EventLoopDelayWindow } from './event-loop-delay.ts';

export const protectionConfigProperties = {
  RATE_LIMIT_MAX: Type.Integer({
    minimum: 0,
    default: 0,
    reloadable: true,
    description:
      'Requests one client may make per RATE_LIMIT_WINDOW_MS before getting 429; 0 (the default) turns the limit off, because behind an ingress every request shares one peer IP unless RATE_LIMIT_CLIENT_HEADER names the client. Reloadable.',
  }),
  RATE_LIMIT_WINDOW_MS: Type.Integer({
    minimum: 100,
    default: 60_000,
    reloadable: true,
    description: 'Rate-limit window. Reloadable.',
  }),
  RATE_LIMIT_CLIENT_HEADER: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z0-9-]+$',
      description:
        'Header naming the client (an API key or a gateway-set client id); unset means the client IP (trust the proxy to set it).',
    }),
  ),
  LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: Type.Integer({
    minimum: 0,
    default: 1_000,
    description:
      'Answer 503 with Retry-After while the mean event-loop delay over the last second is above this (0 turns the check off). Measured from the moment the server listens: start-up work never counts.',
  }),
  LOAD_SHED_MAX_HEAP_USED_BYTES: Type.Integer({
    minimum: 0,
    default: 0,
    description: 'Answer 503 while the V8 heap in use is above this many bytes (0 turns the check off).',
  }),
  LOAD_SHED_MAX_RSS_BYTES: Type.Integer({
    minimum: 0,
    default: 0,
    description: 'Answer 503 while the resident set size is above this many bytes (0 turns the check off).',
  }),
  LOAD_SHED_RETRY_AFTER_S: Type.Integer({
    minimum: 1,
    default: 5,
    description: 'Retry-After seconds on a load-shedding 503.',
  }),
  HEADER_LIMIT_BYTES: Type.Integer({
    minimum: 1_024,
    maximum: 1_048_576,
    default: 16_384,
    description: 'Largest total size of request headers; larger requests get 431.',
  }),
  HEADER_COUNT_LIMIT: Type.Integer({
    minimum: 10,
    default: 100,
    description: 'Most request headers kept per request; further headers are dropped.',
  }),
};

export interface ProtectionSettings {
  RATE_LIMIT_MAX: number;
  RATE_LIMIT_WINDOW_MS: number;
  RATE_LIMIT_CLIENT_HEADER?: string | undefined;
  LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: number;
  LOAD_SHED_MAX_HEAP_USED_BYTES: number;
  LOAD_SHED_MAX_RSS_BYTES: number;
  LOAD_SHED_RETRY_AFTER_S: number;
  HEADER_COUNT_LIMIT: number;
}

const isProbe = (request: FastifyRequest) => request.routeOptions.config?.probe === true;

/** The event-loop delay is the mean over windows of this length. */
const EVENT_LOOP_WINDOW_MS = 1_000;

/**
 * Load shedding, per-client rate limiting and the header-count limit, as an app plugin. `settings` is read per
 * request, so reloaded rate limits apply at once. Probes are exempt: shedding liveness would get healthy but busy
 * pods restarted. Both refusals are problem+json through the central handler.
 */
export function protectionPlugin(settings: () => ProtectionSettings, metrics: Registry) {
  return async (app: FastifyInstance): Promise<void> => {
    const initial = settings();
    app.server.maxHeadersCount = initial.HEADER_COUNT_LIMIT;
    // A shed request never reaches the problem handler, so it is counted here, as the dependency error it is.
    const countError = errorCounter(metrics);

    const shed = (request: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined) => {
      if (isProbe(request)) return undefined;
      if (!isWarmUpRequest(request.raw)) countError('dependency');
      const error = new DependencyError('capacity', {
        code: 'overloaded',
        detail: `The service is overloaded (${type}${value === undefined ? '' : ` ${Math.round(value)}`}); retry after the Retry-After delay.`,
      });
      reply
        .code(503)
        .header('retry-after', String(initial.LOAD_SHED_RETRY_AFTER_S))
        .type(PROBLEM_CONTENT_TYPE)
        .serializer(JSON.stringify);
      return toProblem(error, request.url.split('?')[0] ?? request.url, request.id);
    };

    // under-pressure measures the event loop from its registration on, so start-up (seconds of synchronous work at
    // a fifth of a CPU) read as overload and shed requests in the seconds after ready. This window starts at listen.
    const maxDelayMs = initial.LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS;
    if (maxDelayMs > 0) {
      const loopDelay = new EventLoopDelayWindow(EVENT_LOOP_WINDOW_MS);
      app.addHook('onListen', (done) => {
        loopDelay.start();
        done();
      });
      app.addHook('onClose', (_instance, done) => {
        loopDelay.stop();
        done();
      });
      app.addHook('onRequest', (request, reply, done) => {
        const delayMs = loopDelay.delayMs;
        const problem = delayMs > maxDelayMs ? shed(request, reply, 'eventLoopDelay', delayMs) : undefined;
        if (problem === undefined) done();
        else reply.send(problem);
      });
    }

    // With neither memory check on (the default) under-pressure would only sample memory on a timer.
    if (initial.LOAD_SHED_MAX_HEAP_USED_BYTES > 0 || initial.LOAD_SHED_MAX_RSS_BYTES > 0)
      await app.register(underPressure, {
        maxEventLoopDelay: 0,
        maxHeapUsedBytes: initial.LOAD_SHED_MAX_HEAP_USED_BYTES,
        maxRssBytes: initial.LOAD_SHED_MAX_RSS_BYTES,
        retryAfter: initial.LOAD_SHED_RETRY_AFTER_S,
        // Answered here rather than thrown to the error handler: shedding must stay cheap, so no WARN line per
        // refused request (the request line with status 503 and the metrics still record each one). The plugin
        // sends a non-promise return value as the reply; its type declaration only admits void.
        pressureHandler: ((
          request: FastifyRequest,
          reply: FastifyReply,
          type: string,
          value: number | undefined,
        ) => shed(request, reply, type, value)) as unknown as UnderPressureOptions['pressureHandler'],
      });

    // Not the plugin's own per-route hook: that one is async and builds the client key before it can tell the
    // limit is off (0, the default behind an ingress that limits), three promises per request for nothing.
    await app.register(rateLimit, {
      global: false,
      max: () => settings().RATE_LIMIT_MAX,
      timeWindow: () => settings().RATE_LIMIT_WINDOW_MS,
      keyGenerator: (request) => {
        const header = initial.RATE_LIMIT_CLIENT_HEADER?.toLowerCase();
        const value = header === undefined ? undefined : request.headers[header];
        return typeof value === 'string' && value !== '' ? `client:${value}` : `ip:${request.ip}`;
      },
      errorResponseBuilder: (_request, context) =>
        new BusinessError({
          status: 429,
          code: 'rate-limited',
          title: 'Too Many Requests',
          detail: `Rate limit of ${context.max} requests per ${context.after} exceeded; retry after ${Math.ceil(context.ttl / 1000)} s.`,
          headers: { 'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))) },
        }),
    });
    const limit = app.rateLimit();
    app.addHook('onRequest', (request, reply, done) => {
      if (settings().RATE_LIMIT_MAX === 0 || isProbe(request) || isWarmUpRequest(request.raw)) done();
      else limit.call(app, request, reply).then(() => done(), done);
    });
  };
}
