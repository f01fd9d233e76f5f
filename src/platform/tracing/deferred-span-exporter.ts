import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-node';

/**
 * A span exporter made on the first export rather than at start-up: the OTLP exporter's modules (transport,
 * transformer, serialisers) are loaded once the server listens (see `load`), not on the path to listening, and in
 * any case by the first batch to send.
 */
export class DeferredSpanExporter implements SpanExporter {
  readonly #create: () => Promise<SpanExporter>;
  #exporter: Promise<SpanExporter> | undefined;

  constructor(create: () => Promise<SpanExporter>) {
    this.#create = create;
  }

  /** Makes the exporter now, so that the first export does not pay for loading it while requests wait. */
  async load(): Promise<void> {
    this.#exporter ??= this.#create();
    await this.#exporter;
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
