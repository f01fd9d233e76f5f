import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { emitInContext } from '../http/emit-in-context.ts';
import { TRACE_IDS_BOUND } from '../tracing/tracing-hooks.ts';

/** The ids every line written while handling a request carries when no tracing SDK keeps them in its context. */
export interface RequestLogFields {
  trace_id: string;
}

const current = new AsyncLocalStorage<RequestLogFields>();

/**
 * The logger's mixin without tracing: the handled request's `trace_id` for lines written through loggers that do
 * not carry it as a binding (a dependency's degraded path, a breaker opening). A fresh object every time: pino
 * merges the line's own fields into what the mixin returns.
 */
export function requestLogFields(
  _mergeObject: object,
  _level: number,
  logger: object,
): Record<string, string> {
  if ((logger as { [TRACE_IDS_BOUND]?: boolean })[TRACE_IDS_BOUND]) return {};
  const fields = current.getStore();
  return fields === undefined ? {} : { trace_id: fields.trace_id };
}

/** The trace id of the request being handled, when one is. */
export function currentRequestTraceId(): string | undefined {
  return current.getStore()?.trace_id;
}

/** Runs `handle` for one request with `fields` as the context of every line logged while it is handled. */
export function handleWithLogFields(
  fields: RequestLogFields,
  request: IncomingMessage,
  response: ServerResponse,
  handle: (request: IncomingMessage, response: ServerResponse) => void,
): void {
  current.run(fields, () => {
    emitInContext(request, (emit) => current.run(fields, emit));
    handle(request, response);
  });
}
