import { randomFillSync } from 'node:crypto';

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const INVALID_TRACE_ID = '0'.repeat(32);
const INVALID_SPAN_ID = '0'.repeat(16);

export interface Traceparent {
  traceId: string;
  /** The caller's span, the parent of this service's server span. */
  spanId: string;
  sampled: boolean;
}

/** A W3C `traceparent` header, or undefined when it is absent or malformed. */
export function parseTraceparent(header: string | string[] | undefined): Traceparent | undefined {
  if (typeof header !== 'string') return undefined;
  const match = TRACEPARENT.exec(header.trim().toLowerCase());
  if (!match || match[1] === INVALID_TRACE_ID || match[2] === INVALID_SPAN_ID) return undefined;
  return {
    traceId: match[1] as string,
    spanId: match[2] as string,
    sampled: (Number.parseInt(match[3] as string, 16) & 1) === 1,
  };
}

/** The trace id of a W3C `traceparent` header, or undefined when the header is absent or malformed. */
export function traceIdFromTraceparent(header: string | string[] | undefined): string | undefined {
  return parseTraceparent(header)?.traceId;
}

/**
 * Random bytes drawn in blocks: one randomFillSync per 256 trace ids instead of a UUID (and its string surgery)
 * per id. The ids stay fully random (W3C's "random" trace-id flag holds), never all zero in practice.
 */
const POOL_BYTES = 4_096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolOffset = POOL_BYTES;

function randomHex(bytes: number): string {
  if (poolOffset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const hex = pool.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return hex;
}

/** A new random W3C trace id (32 lowercase hex characters). */
export function newTraceId(): string {
  const id = randomHex(16);
  return id === INVALID_TRACE_ID ? newTraceId() : id;
}

/** A new random W3C span id (16 lowercase hex characters), never all zero. */
export function newSpanId(): string {
  const id = randomHex(8);
  return id === INVALID_SPAN_ID ? newSpanId() : id;
}
