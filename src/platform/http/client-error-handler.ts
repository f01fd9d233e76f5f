import type { Socket } from 'node:net';
import type { ConnectionError, FastifyBaseLogger } from 'fastify';
import { BusinessError } from '../errors/app-error.ts';
import { PROBLEM_CONTENT_TYPE, type ProblemDetails, toProblem } from '../errors/problem-details.ts';
import { newTraceId } from '../tracing/trace-context.ts';

/** What Node's HTTP parser reports on a `clientError`: the chunk it failed on and how far into it it got. */
interface ParserError extends Error {
  code?: string;
  rawPacket?: Buffer;
  bytesParsed?: number;
}

const LONGEST_ECHOED_PATH = 256;

/**
 * Answers requests Node's HTTP parser rejects before any route sees them (malformed request line, oversized
 * headers, timeouts) with a problem+json document, as every other error, then closes the connection.
 */
export function clientErrorHandler(logger: FastifyBaseLogger) {
  return (connectionError: ConnectionError, socket: Socket): void => {
    // Fastify types rawPacket as a Buffer's JSON form; Node hands over the Buffer itself.
    const error = connectionError as unknown as ParserError;
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const requestLine = parsedRequestLine(error);
    const appError = toClientError(error, requestLine);
    const traceId = newTraceId();
    logger.debug(
      { code: error.code, status: appError.status, trace_id: traceId },
      `client error: ${error.message}`,
    );
    // A response already under way on this keep-alive connection cannot be followed by another one.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      const path = requestLine?.path;
      const problem: Partial<ProblemDetails> = toProblem(appError, path ?? '', traceId);
      if (path === undefined || path.length > LONGEST_ECHOED_PATH) delete problem.instance;
      const body = JSON.stringify(problem);
      socket.write(
        `HTTP/1.1 ${appError.status} ${appError.title}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(error);
  };
}

interface RequestLine {
  path: string;
  /** Whether the line ended within what the parser read, i.e. the overflow came from the headers after it. */
  complete: boolean;
}

/** The request line at the start of the chunk the parser failed on, when the chunk starts with one. */
function parsedRequestLine(error: ParserError): RequestLine | undefined {
  if (error.rawPacket === undefined) return undefined;
  const parsed = error.rawPacket.subarray(0, error.bytesParsed ?? error.rawPacket.length).toString('latin1');
  const match = /^[A-Z]+ (\/[^ ?\r\n]*)[^\r\n]*(\r?\n)?/.exec(parsed);
  if (match === null) return undefined;
  return { path: match[1] as string, complete: match[2] !== undefined };
}

function toClientError(error: ParserError, requestLine: RequestLine | undefined): BusinessError {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new BusinessError({
      status: 408,
      code: 'request-timeout',
      title: 'Request Timeout',
      detail: 'The request did not arrive completely in time.',
    });
  }
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    // Node counts the request line into the header size; an unfinished line means the URI alone was too long.
    // (A URI split over several TCP segments is only seen as part of the header block: 431.)
    if (requestLine !== undefined && !requestLine.complete) {
      return new BusinessError({
        status: 414,
        code: 'uri-too-long',
        title: 'URI Too Long',
        detail: 'The request target exceeds the header size limit.',
      });
    }
    return new BusinessError({
      status: 431,
      code: 'request-header-fields-too-large',
      title: 'Request Header Fields Too Large',
      detail: 'The request line and headers exceed the header size limit.',
    });
  }
  return new BusinessError({
    status: 400,
    code: 'bad-request',
    title: 'Bad Request',
    detail: `The request is not valid HTTP/1.1 (${error.code ?? 'parse error'}).`,
  });
}
