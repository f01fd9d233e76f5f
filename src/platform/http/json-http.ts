import { OutboundCallError } from '../resilience/outbound-call-error.ts';

export interface HttpCallErrorOptions {
  retryable: boolean;
  status?: number | undefined;
  /** The error answer: parsed JSON when the server sent JSON, otherwise the start of its text. */
  body?: unknown;
  cause?: unknown;
}

/** A JSON-over-HTTP call that failed: unreachable, timed out, a non-2xx answer, or a body that is not JSON. */
export class HttpCallError extends OutboundCallError {
  override readonly name: string = 'HttpCallError';
  readonly body: unknown;
  constructor(message: string, options: HttpCallErrorOptions) {
    super(message, options);
    this.body = options.body;
  }
}

export type HttpCallErrorClass = new (message: string, options: HttpCallErrorOptions) => HttpCallError;

export interface JsonRequest {
  /** Names the dependency in error messages: `Vault`, `risk service`, ... */
  service: string;
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  /** Sent as JSON; `content-type` defaults to application/json. */
  json?: unknown;
  /** Sent as is (a signed form, a payload whose exact bytes were signed); give its `content-type` in headers. */
  body?: string;
  /** Bound on the whole call, body included. */
  timeoutMs?: number;
  /** The caller's own cancellation (a call policy's attempt timeout, shutdown). */
  signal?: AbortSignal;
  /** Non-2xx statuses that are answers, not errors (Consul's 404 for an empty prefix). */
  acceptStatus?: readonly number[];
  /** Which error statuses another attempt may fix; by default 408, 429 and every 5xx. */
  retryableStatus?: (status: number) => boolean;
  /** Picks the human-readable reason out of an error answer; by default `message`, `error`, `detail` or `errors[]`. */
  errorDetail?: (body: unknown) => string | undefined;
  /** The client's own subclass, so its callers and logs can tell the dependencies apart. */
  errorClass?: HttpCallErrorClass;
}

export interface JsonAnswer<T> {
  status: number;
  headers: Headers;
  /** The parsed body; `undefined` when the answer had none (include `undefined` in T where that can happen). */
  body: T;
}

const ERROR_TEXT_MAX_CHARS = 300;

export function defaultRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export function defaultErrorDetail(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim() || undefined;
  if (typeof body !== 'object' || body === null) return undefined;
  const fields = body as Record<string, unknown>;
  for (const name of ['message', 'error', 'detail'] as const) {
    if (typeof fields[name] === 'string' && fields[name] !== '') return fields[name];
  }
  if (Array.isArray(fields.errors)) {
    const texts = fields.errors.filter((item): item is string => typeof item === 'string');
    if (texts.length > 0) return texts.join('; ');
  }
  return undefined;
}

/**
 * One JSON call over fetch. Failures come back as one error type (or the client's subclass of it) carrying
 * `retryable` and `status`: a connection error or timeout is retryable; an error status is retryable when
 * `retryableStatus` says so; a success whose body is not JSON is not. Messages name the service, method and
 * path but never the query string, where some APIs carry their key.
 */
export async function requestJson<T>(url: string | URL, request: JsonRequest): Promise<JsonAnswer<T>> {
  const target = typeof url === 'string' ? new URL(url) : url;
  const method =
    request.method ?? (request.json === undefined && request.body === undefined ? 'GET' : 'POST');
  const what = `${request.service} ${method} ${target.pathname}`;
  const ErrorClass = request.errorClass ?? HttpCallError;
  const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
  let body = request.body;
  if (request.json !== undefined) {
    body = JSON.stringify(request.json);
    headers['content-type'] ??= 'application/json';
  }
  const timeout = request.timeoutMs === undefined ? undefined : AbortSignal.timeout(request.timeoutMs);
  const signals = [request.signal, timeout].filter((signal) => signal !== undefined);
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];

  let response: Response;
  let text: string;
  try {
    response = await fetch(target, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      ...(signal === undefined ? {} : { signal }),
    });
    text = await response.text();
  } catch (error) {
    const reason = timeout?.aborted
      ? `timed out after ${request.timeoutMs} ms`
      : `unreachable: ${(error as Error).message}`;
    throw new ErrorClass(`${what} ${reason}`, { retryable: true, cause: error });
  }

  const accepted = response.ok || (request.acceptStatus?.includes(response.status) ?? false);
  if (!accepted) {
    const errorBody = parseErrorBody(text);
    const detail = (request.errorDetail ?? defaultErrorDetail)(errorBody);
    throw new ErrorClass(`${what} answered ${response.status}${detail ? `: ${detail}` : ''}`, {
      retryable: (request.retryableStatus ?? defaultRetryableStatus)(response.status),
      status: response.status,
      body: errorBody,
    });
  }
  if (text === '') return { status: response.status, headers: response.headers, body: undefined as T };
  try {
    return { status: response.status, headers: response.headers, body: JSON.parse(text) as T };
  } catch (error) {
    throw new ErrorClass(`${what} answered ${response.status} with a body that is not JSON`, {
      retryable: false,
      body: text.slice(0, ERROR_TEXT_MAX_CHARS),
      cause: error,
    });
  }
}

function parseErrorBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text.slice(0, ERROR_TEXT_MAX_CHARS);
  }
}
