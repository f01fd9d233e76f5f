import { randomUUID } from 'node:crypto';

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const INVALID_TRACE_ID = '0'.repeat(32);

/** The trace id of a W3C `traceparent` header, or undefined when the header is absent or malformed. */
export function traceIdFromTraceparent(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = TRACEPARENT.exec(header.trim().toLowerCase());
  if (!match || match[1] === INVALID_TRACE_ID || match[2] === '0'.repeat(16)) return undefined;
  return match[1];
}

/** A new random W3C trace id (32 lowercase hex characters). randomUUID draws from a cached entropy pool. */
export function newTraceId(): string {
  return randomUUID().replaceAll('-', '');
}
