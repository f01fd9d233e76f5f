import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

export interface RequestLogOptions {
  /** Read per request, so a reloaded threshold applies at once. Above it the line is a WARN with `slow: true`. */
  slowRequestMs: () => number;
}

/**
 * One line per request, written when the response is done: method, route template, status, duration and, via
 * the request logger's bindings, the trace id. Fastify's default is two lines per request with full request and
 * response objects, which costs a third of the throughput. Probe routes are not logged.
 */
export class RequestLogController extends LogController {
  readonly #options: RequestLogOptions;

  constructor(options: RequestLogOptions) {
    super({
      requestIdLogLabel: 'trace_id',
      disableRequestLogging: (request) => request.routeOptions?.config?.probe === true,
    });
    this.#options = options;
  }

  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.isLogDisabled(request)) return;
    const duration_ms = Math.round(reply.elapsedTime * 100) / 100;
    const fields: Record<string, unknown> = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: reply.statusCode,
      duration_ms,
    };
    if (error) {
      reply.log.warn({ ...fields, error }, 'request failed while sending the response');
    } else if (duration_ms > this.#options.slowRequestMs()) {
      reply.log.warn({ ...fields, slow: true }, 'slow request completed');
    } else {
      reply.log.info(fields, 'request completed');
    }
  }
}
