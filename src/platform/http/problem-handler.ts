import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  type ErrorObserver,
  PROBLEM_CONTENT_TYPE,
  toAppError,
  toProblem,
} from '../errors/problem-details.ts';
import { isWarmUpRequest } from './warm-up.ts';

/** The one place errors become responses. Business errors are shown, system errors are hidden and logged. */
export function installProblemHandler(app: FastifyInstance, observe?: ErrorObserver): void {
  // The start-up warm-up's 404s are served like any other, but are not errors anyone should count.
  const report = (request: FastifyRequest, appError: ReturnType<typeof toAppError>) => {
    if (observe && !isWarmUpRequest(request.raw)) observe(appError.kind, appError);
  };
  app.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error);
    report(request, appError);
    if (appError.kind === 'system') {
      request.log.error({ error, kind: appError.kind }, `unhandled error: ${(error as Error).message}`);
    } else if (appError.kind === 'dependency') {
      request.log.warn({ error: appError, kind: appError.kind }, appError.message);
    }
    return sendProblem(request, reply, appError);
  });

  app.setNotFoundHandler((request, reply) => {
    const appError = toAppError({
      statusCode: 404,
      code: 'not-found',
      message: `No route for ${request.method} ${request.url.split('?')[0]}`,
    });
    report(request, appError);
    return sendProblem(request, reply, appError);
  });
}

function sendProblem(request: FastifyRequest, reply: FastifyReply, appError: ReturnType<typeof toAppError>) {
  if (appError.headers) reply.headers(appError.headers);
  const path = request.url.split('?')[0] ?? request.url;
  return reply
    .code(appError.status)
    .type(PROBLEM_CONTENT_TYPE)
    .serializer(JSON.stringify)
    .send(toProblem(appError, path, request.id));
}
