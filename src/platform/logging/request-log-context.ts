import { AsyncLocalStorage } from 'node:async_hooks';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
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

const LISTENER_METHODS = ['on', 'addListener', 'once', 'prependListener', 'prependOnceListener'] as const;

/**
 * Node delivers a request body from the socket, outside the context the handler started in: listeners added while
 * the request is handled are bound to that context, so the body parser and the handler after it keep the ids.
 * Removal finds the bound listener by its original, as callers expect.
 */
function bindListeners(emitter: EventEmitter): void {
  const bound = new WeakMap<(...args: unknown[]) => void, (...args: unknown[]) => void>();
  for (const method of LISTENER_METHODS) {
    const add = emitter[method];
    emitter[method] = function (this: EventEmitter, event, listener) {
      let wrapped = bound.get(listener);
      if (wrapped === undefined) {
        wrapped = AsyncLocalStorage.bind(listener);
        bound.set(listener, wrapped);
      }
      return add.call(this, event, wrapped);
    };
  }
  const remove = emitter.removeListener;
  emitter.removeListener = emitter.off = function (this: EventEmitter, event, listener) {
    return remove.call(this, event, bound.get(listener) ?? listener);
  };
}

/** Runs `handle` for one request with `fields` as the context of every line logged while it is handled. */
export function handleWithLogFields(
  fields: RequestLogFields,
  request: IncomingMessage,
  response: ServerResponse,
  handle: (request: IncomingMessage, response: ServerResponse) => void,
): void {
  current.run(fields, () => {
    // Requests without a body skip the cost.
    if (request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined)
      bindListeners(request);
    handle(request, response);
  });
}
