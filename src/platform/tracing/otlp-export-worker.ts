import { parentPort, workerData } from 'node:worker_threads';
import { ExportResultCode } from '@opentelemetry/core';
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from '@opentelemetry/otlp-exporter-base/node-http';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import {
  type BatchOutcome,
  type EncodedBatch,
  type ExportWorkerSettings,
  SHUTDOWN,
} from './otlp-export-protocol.ts';

// The OpenTelemetry exporter's own transport (retries with back-off, timeouts, OTEL_EXPORTER_OTLP_* headers and
// compression from the environment); the batch arrives encoded, so serialising passes its bytes through.
const settings = workerData as ExportWorkerSettings;
const delegate = createOtlpHttpExportDelegate<EncodedBatch, unknown>(
  convertLegacyHttpOptions(
    { url: settings.url, timeoutMillis: settings.timeoutMillis },
    'TRACES',
    'v1/traces',
    { 'Content-Type': 'application/json' },
  ),
  {
    serializeRequest: (batch) => batch.body,
    deserializeResponse: (data) => JsonTraceSerializer.deserializeResponse(data),
  },
  'otlp_http_span_exporter',
  { name: 'span', countItems: (batch) => batch.spans },
  undefined,
);

/** The exporter's error for a refused batch carries the HTTP status beside its reason phrase. */
function describe(error: (Error & { code?: number }) | undefined): string {
  if (error === undefined) return 'export failed';
  return typeof error.code === 'number' ? `${error.message} (HTTP ${error.code})` : error.message;
}

const port = parentPort;
if (port === null) throw new Error('otlp-export-worker runs as a worker thread');
port.on('message', (message: EncodedBatch | typeof SHUTDOWN) => {
  if (message === SHUTDOWN) {
    // Closing the port leaves the worker nothing to wait for: it exits, which the exporter awaits.
    void delegate.shutdown().finally(() => port.close());
    return;
  }
  const { id } = message;
  delegate.export(message, (result) => {
    const outcome: BatchOutcome =
      result.code === ExportResultCode.SUCCESS
        ? { id, sent: true }
        : { id, sent: false, error: describe(result.error) };
    port.postMessage(outcome);
  });
});
