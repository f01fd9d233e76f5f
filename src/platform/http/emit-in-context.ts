import type { IncomingMessage } from 'node:http';

type Emit = (event: string | symbol, ...args: unknown[]) => boolean;

/**
 * Node emits a request's body events ('data', 'end', 'close') from the socket's callbacks, outside the context the
 * handler started in. Every event the request emits goes through `enter`, so the body parser, and the handler it
 * calls once the body is read, run in the request's context. One wrapper per request: binding every listener
 * instead (a bound copy per listener and the bookkeeping to remove it by its original) was about 8 KB of garbage
 * per POST, promoted to the old generation while the request waited for the database. A request without a body
 * is left as it is: its handler runs inside the context already, and nothing arrives from the socket after it.
 */
export function emitInContext(request: IncomingMessage, enter: (emit: () => boolean) => boolean): void {
  if (request.headers['content-length'] === undefined && request.headers['transfer-encoding'] === undefined)
    return;
  const emit = request.emit as Emit;
  request.emit = function emitInRequestContext(this: IncomingMessage, ...args: Parameters<Emit>): boolean {
    return enter(() => emit.apply(this, args));
  } as IncomingMessage['emit'];
}
