import { type Context, diag, TraceFlags } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode, globalErrorHandler } from '@opentelemetry/core';
import type { BufferConfig, ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-node';
import { OtlpJsonBatch } from './otlp-json-spans.ts';

/** Where encoded batches go: the export worker (worker-span-exporter.ts) or a test's stand-in. */
export interface EncodedSpanExporter {
  export(body: Uint8Array, spans: number, resultCallback: (result: ExportResult) => void): void;
  /** Resolves once every batch handed over so far has been sent or has failed. */
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * The batch span processor's job (batches of `maxExportBatchSize`, or what has ended within `scheduledDelayMillis`;
 * at most `maxQueueSize` spans held, the rest dropped and reported) with each sampled span encoded the moment it
 * ends (otlp-json-spans.ts), so no span object waits for its batch.
 */
export class EncodingSpanProcessor implements SpanProcessor {
  readonly #exporter: EncodedSpanExporter;
  readonly #settings: Required<
    Pick<BufferConfig, 'maxQueueSize' | 'maxExportBatchSize' | 'scheduledDelayMillis'>
  >;
  readonly #batch = new OtlpJsonBatch();
  #timer: NodeJS.Timeout | undefined;
  /** Spans handed to the exporter whose outcome has not come back. */
  #inFlight = 0;
  #dropped = 0;
  #droppedUnreported = 0;
  #shutdown: Promise<void> | undefined;

  constructor(exporter: EncodedSpanExporter, settings: Partial<BufferConfig> = {}) {
    this.#exporter = exporter;
    this.#settings = {
      maxQueueSize: settings.maxQueueSize ?? 2_048,
      maxExportBatchSize: settings.maxExportBatchSize ?? 512,
      scheduledDelayMillis: settings.scheduledDelayMillis ?? 5_000,
    };
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#shutdown !== undefined || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.#inFlight + this.#batch.size >= this.#settings.maxQueueSize) {
      this.#dropped += 1;
      this.#droppedUnreported += 1;
      return;
    }
    try {
      this.#batch.add(span);
    } catch (error) {
      // An attribute the encoder cannot write must not fail the request that ended the span.
      globalErrorHandler(error as Error);
      return;
    }
    if (this.#batch.size >= this.#settings.maxExportBatchSize) this.#send();
    else this.#timer ??= setTimeout(() => this.#send(), this.#settings.scheduledDelayMillis).unref();
  }

  /** Sends what has ended so far and resolves once everything handed over is sent or has failed. */
  forceFlush(): Promise<void> {
    this.#send();
    return this.#exporter.forceFlush();
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= this.forceFlush().then(() => this.#exporter.shutdown());
    return this.#shutdown;
  }

  /** Spans dropped because the queue was full, since the start. */
  get dropped(): number {
    return this.#dropped;
  }

  #send(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#droppedUnreported > 0) {
      diag.warn(`${this.#droppedUnreported} spans dropped: the export queue was full`);
      this.#droppedUnreported = 0;
    }
    const spans = this.#batch.size;
    if (spans === 0) return;
    const body = this.#batch.take();
    this.#inFlight += spans;
    this.#exporter.export(body, spans, (result) => {
      this.#inFlight -= spans;
      if (result.code !== ExportResultCode.SUCCESS) {
        globalErrorHandler(result.error ?? new Error('span export failed'));
      }
    });
  }
}
