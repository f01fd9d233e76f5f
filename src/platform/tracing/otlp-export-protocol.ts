/** What the span exporter and its worker thread (otlp-export-worker.ts) say to each other. */

/** A batch of spans already encoded as an OTLP JSON ExportTraceServiceRequest. */
export interface EncodedBatch {
  id: number;
  body: Uint8Array;
  spans: number;
}

export type BatchOutcome = { id: number; sent: true } | { id: number; sent: false; error: string };

export interface ExportWorkerSettings {
  /** Full URL spans are posted to (`…/v1/traces`). */
  url: string;
  timeoutMillis: number;
}

/** Asks the worker to send what it holds and end. */
export const SHUTDOWN = 'shutdown';
