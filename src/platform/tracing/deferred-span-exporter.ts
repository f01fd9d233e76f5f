import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-node';

/**
 * A span exporter made on the first export rather than at start-up: the OTLP exporter's modules (transport,
 * transformer, serialisers) are loaded and set up once there is a batch to send, not while the service starts.
 * Spans are batched before they get here, so only the first export waits for the load.
 */
export class DeferredSpanExporter implements SpanExporter {
  readonly #create: () => Promise<SpanExporter>;
  #exporter: Promise<SpanExporter> | undefined;

  constructor(create: () => Promise<SpanExporter>) {
    this.#create = create;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.#exporter ??= this.#create();
    this.#exporter.then(
      (exporter) => exporter.export(spans, resultCallback),
      (error: unknown) => resultCallback({ code: ExportResultCode.FAILED, error: error as Error }),
    );
  }

  async forceFlush(): Promise<void> {
    await (await this.#exporter)?.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    await (await this.#exporter)?.shutdown();
  }
}
