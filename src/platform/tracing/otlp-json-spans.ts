import type { Attributes, AttributeValue, HrTime, Link } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-node';

/**
 * OTLP JSON (the protobuf JSON mapping: ids hex-encoded, times as decimal strings of nanoseconds) written one span
 * at a time, as each span ends, into a byte buffer outside the JavaScript heap. The library's serialiser takes
 * the batch's span objects at export time and builds a second object tree from them; spans held that long under
 * load outlive the young generation and are promoted. Written at their end, spans die young: at ratio 1 in the
 * pod, one full collection in 15 s of load instead of five, at the same CPU per request (docs/observability.md).
 * The output is the library's (`JsonTraceSerializer`), field for field; test/unit/otlp-json-spans.test.ts
 * compares the two.
 */

const SAMPLED_FLAGS_MASK = 0xff;
const SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE = 0x100;
const SPAN_FLAGS_CONTEXT_IS_REMOTE = 0x200;
const INITIAL_SCOPE_BYTES = 16 * 1024;
/** A scope's buffer that grew past this during a burst is not kept for the next batch. */
const KEPT_SCOPE_BYTES = 1024 * 1024;

const quote = JSON.stringify;

function nanos(time: HrTime): string {
  const seconds = Math.trunc(time[0]);
  const fraction = Math.trunc(time[1]);
  return seconds === 0 ? String(fraction) : `${seconds}${String(fraction).padStart(9, '0')}`;
}

function anyValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return `{"stringValue":${quote(value)}}`;
    case 'number':
      return Number.isInteger(value) ? `{"intValue":${value}}` : `{"doubleValue":${quote(value)}}`;
    case 'boolean':
      return `{"boolValue":${value}}`;
  }
  if (value instanceof Uint8Array) return `{"bytesValue":"${Buffer.from(value).toString('base64')}"}`;
  if (Array.isArray(value)) return `{"arrayValue":{"values":[${value.map(anyValue).join(',')}]}}`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(
      ([key, item]) => `{"key":${quote(key)},"value":${anyValue(item)}}`,
    );
    return `{"kvlistValue":{"values":[${entries.join(',')}]}}`;
  }
  return '{}';
}

function attributes(list: Attributes | undefined): string {
  if (list === undefined) return '[]';
  let json = '';
  for (const key in list) {
    json += `${json === '' ? '' : ','}{"key":${quote(key)},"value":${anyValue(list[key] as AttributeValue)}}`;
  }
  return `[${json}]`;
}

function flags(traceFlags: number, remote: boolean | undefined): number {
  return (
    (traceFlags & SAMPLED_FLAGS_MASK) |
    SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE |
    (remote ? SPAN_FLAGS_CONTEXT_IS_REMOTE : 0)
  );
}

function event(timed: TimedEvent): string {
  return `{"attributes":${attributes(timed.attributes)},"name":${quote(timed.name)},"timeUnixNano":"${nanos(timed.time)}","droppedAttributesCount":${timed.droppedAttributesCount ?? 0}}`;
}

function link(linked: Link): string {
  const state = linked.context.traceState?.serialize();
  return `{"attributes":${attributes(linked.attributes)},"spanId":${quote(linked.context.spanId)},"traceId":${quote(linked.context.traceId)}${state === undefined ? '' : `,"traceState":${quote(state)}`},"droppedAttributesCount":${linked.droppedAttributesCount ?? 0},"flags":${flags(linked.context.traceFlags, linked.context.isRemote)}}`;
}

/** One span as an element of `scopeSpans[].spans`. */
export function otlpJsonSpan(span: ReadableSpan): string {
  const ids = span.spanContext();
  const parent = span.parentSpanContext;
  const state = ids.traceState?.serialize();
  const status = span.status;
  return (
    `{"traceId":${quote(ids.traceId)},"spanId":${quote(ids.spanId)}` +
    (parent?.spanId ? `,"parentSpanId":${quote(parent.spanId)}` : '') +
    (state === undefined ? '' : `,"traceState":${quote(state)}`) +
    `,"name":${quote(span.name)},"kind":${span.kind == null ? 0 : span.kind + 1}` +
    `,"startTimeUnixNano":"${nanos(span.startTime)}","endTimeUnixNano":"${nanos(span.endTime)}"` +
    `,"attributes":${attributes(span.attributes)},"droppedAttributesCount":${span.droppedAttributesCount}` +
    `,"events":[${span.events.map(event).join(',')}],"droppedEventsCount":${span.droppedEventsCount}` +
    `,"status":{"code":${status.code}${status.message === undefined ? '' : `,"message":${quote(status.message)}`}}` +
    `,"links":[${span.links.map(link).join(',')}],"droppedLinksCount":${span.droppedLinksCount}` +
    `,"flags":${flags(ids.traceFlags, parent?.isRemote)}}`
  );
}

function otlpJsonResource(resource: Resource): string {
  const schemaUrl = resource.schemaUrl ? `,"schemaUrl":${quote(resource.schemaUrl)}` : '';
  return `"resource":{"attributes":${attributes(resource.attributes)},"droppedAttributesCount":0${schemaUrl}}${schemaUrl}`;
}

function otlpJsonScope(scope: InstrumentationScope & { attributes?: Attributes }): string {
  const version = scope.version === undefined ? '' : `,"version":${quote(scope.version)}`;
  const extra =
    scope.attributes && Object.keys(scope.attributes).length > 0
      ? `,"attributes":${attributes(scope.attributes)},"droppedAttributesCount":0`
      : '';
  const schemaUrl = scope.schemaUrl === undefined ? '' : `,"schemaUrl":${quote(scope.schemaUrl)}`;
  return `"scope":{"name":${quote(scope.name)}${version}${extra}}${schemaUrl}`;
}

/** The encoded spans of one instrumentation scope, comma-separated, in a buffer that grows by doubling. */
class ScopeSpans {
  readonly head: string;
  bytes = Buffer.allocUnsafeSlow(INITIAL_SCOPE_BYTES);
  length = 0;

  readonly resource: Resource;
  readonly scope: InstrumentationScope;

  constructor(resource: Resource, scope: InstrumentationScope) {
    this.resource = resource;
    this.scope = scope;
    this.head = otlpJsonScope(scope);
  }

  append(json: string): void {
    // UTF-8 takes at most three bytes per UTF-16 unit, plus the separating comma.
    const needed = this.length + json.length * 3 + 1;
    if (needed > this.bytes.length) {
      let size = this.bytes.length * 2;
      while (size < needed) size *= 2;
      const grown = Buffer.allocUnsafeSlow(size);
      this.bytes.copy(grown, 0, 0, this.length);
      this.bytes = grown;
    }
    if (this.length > 0) this.bytes[this.length++] = 0x2c; // ','
    this.length += this.bytes.write(json, this.length);
  }

  clear(): void {
    this.length = 0;
    if (this.bytes.length > KEPT_SCOPE_BYTES) this.bytes = Buffer.allocUnsafeSlow(INITIAL_SCOPE_BYTES);
  }
}

/**
 * The spans of one export batch, encoded as they are added, grouped by resource and instrumentation scope as an
 * ExportTraceServiceRequest groups them.
 */
export class OtlpJsonBatch {
  readonly #resources = new Map<Resource, { head: string; scopes: Map<string, ScopeSpans> }>();
  #last: ScopeSpans | undefined;
  #size = 0;

  /** Spans added since the last take(). */
  get size(): number {
    return this.#size;
  }

  add(span: ReadableSpan): void {
    const json = otlpJsonSpan(span);
    // Spans of one tracer share their scope and resource objects: the last lookup serves the next span.
    let spans = this.#last;
    if (
      spans === undefined ||
      spans.scope !== span.instrumentationScope ||
      spans.resource !== span.resource
    ) {
      spans = this.#scopeSpans(span.resource, span.instrumentationScope);
      this.#last = spans;
    }
    spans.append(json);
    this.#size += 1;
  }

  #scopeSpans(resource: Resource, scope: InstrumentationScope): ScopeSpans {
    let ofResource = this.#resources.get(resource);
    if (ofResource === undefined) {
      ofResource = { head: otlpJsonResource(resource), scopes: new Map() };
      this.#resources.set(resource, ofResource);
    }
    const key = `${scope.name}@${scope.version ?? ''}:${scope.schemaUrl ?? ''}`;
    let spans = ofResource.scopes.get(key);
    if (spans === undefined) {
      spans = new ScopeSpans(resource, scope);
      ofResource.scopes.set(key, spans);
    }
    return spans;
  }

  /** The ExportTraceServiceRequest of the spans added since the last take(), in a buffer of its own. */
  take(): Uint8Array {
    const parts: (string | Buffer)[] = ['{"resourceSpans":['];
    let firstResource = true;
    for (const { head, scopes } of this.#resources.values()) {
      const filled = [...scopes.values()].filter((spans) => spans.length > 0);
      if (filled.length === 0) continue;
      parts.push(`${firstResource ? '' : ','}{${head},"scopeSpans":[`);
      firstResource = false;
      filled.forEach((spans, index) => {
        parts.push(
          `${index === 0 ? '' : ','}{${spans.head},"spans":[`,
          spans.bytes.subarray(0, spans.length),
          ']}',
        );
      });
      parts.push(']}');
    }
    parts.push(']}');
    const chunks = parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part));
    const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    // A buffer of its own (not a slice of Node's shared pool), so it can be transferred to the export worker.
    const body = Buffer.allocUnsafeSlow(total);
    let offset = 0;
    for (const chunk of chunks) offset += chunk.copy(body, offset);
    for (const { scopes } of this.#resources.values()) for (const spans of scopes.values()) spans.clear();
    this.#size = 0;
    return body;
  }
}
