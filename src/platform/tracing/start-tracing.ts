import { setTimeout as delay } from 'node:timers/promises';
import { context, DiagLogLevel, diag, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { setGlobalErrorHandler } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { type BufferConfig, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { EncodingSpanProcessor } from './encoding-span-processor.ts';
import { httpServerSpans } from './http-server-spans.ts';
import { KEPT_AS, PresetIdGenerator, RequestSampler } from './request-sampling.ts';
import { TRACE_IDS_BOUND, type Tracing } from './tracing-hooks.ts';
import { markTracingStarted } from './tracing-state.ts';
import { WorkerSpanExporter } from './worker-span-exporter.ts';

export interface TracingOptions {
  /** OTLP/HTTP base URL; spans go to `${endpoint}/v1/traces`. */
  endpoint: string;
  /** Share of new traces recorded; requests with a sampled parent are always recorded. */
  sampleRatio: number;
  service: string;
  version: string;
  canary: boolean;
}

const EXPORT_TIMEOUT_MS = 5_000;
/** Shutdown waits this long for the last export; a collector that is gone must not hold the process. */
const SHUTDOWN_BOUND_MS = 2_000;
const PROBLEM_LOG_INTERVAL_MS = 60_000;

/**
 * Batching sized for a 128 MiB pod: the SDK default (2 048 held, 512 per export, every 5 s) builds a ~0.4 MB JSON
 * body per export; smaller batches sent every second keep a pod's export memory bounded. The standard
 * OTEL_BSP_* variables still override each value.
 */
function batchSettings(): BufferConfig {
  const fromEnv = (name: string, fallback: number) => {
    const value = Number(process.env[name]);
    return process.env[name] !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
  };
  return {
    maxQueueSize: fromEnv('OTEL_BSP_MAX_QUEUE_SIZE', 1_024),
    maxExportBatchSize: fromEnv('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 256),
    scheduledDelayMillis: fromEnv('OTEL_BSP_SCHEDULE_DELAY', 1_000),
  };
}

/**
 * Starts the OpenTelemetry SDK: W3C trace context in and out, server spans around the HTTP handler (sampled
 * parent-based with a ratio for new traces, plus every failed or slow request after the fact), spans for
 * outgoing fetch/undici calls (diagnostics channels, so load order does not matter), SQL spans from the database
 * layer, encoded as OTLP JSON as each ends and sent in batches from a worker thread (encoding-span-processor.ts,
 * worker-span-exporter.ts).
 */
export function startTracing(options: TracingOptions): Tracing {
  const sampler = new RequestSampler(options.sampleRatio);
  const idGenerator = new PresetIdGenerator();
  const exporter = new WorkerSpanExporter({
    url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces`,
    timeoutMillis: EXPORT_TIMEOUT_MS,
  });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.service,
      [ATTR_SERVICE_VERSION]: options.version,
      canary: options.canary,
    }),
    sampler,
    idGenerator,
    spanProcessors: [new EncodingSpanProcessor(exporter, batchSettings())],
  });
  // Registers the AsyncLocalStorage context manager and the W3C traceparent/baggage propagator.
  provider.register();
  markTracingStarted();

  return {
    http: httpServerSpans(sampler, idGenerator),
    logFields(_mergeObject, _level, logger): Record<string, string> {
      // A fresh object every time: pino merges the line's own fields into what the mixin returns.
      if ((logger as { [TRACE_IDS_BOUND]?: boolean })[TRACE_IDS_BOUND]) return {};
      const span = trace.getSpan(context.active());
      if (span === undefined) return {};
      const ids = span.spanContext();
      return { trace_id: ids.traceId, span_id: ids.spanId };
    },
    async prepareForRequests() {
      const [{ registerInstrumentations }, { UndiciInstrumentation }] = await Promise.all([
        import('@opentelemetry/instrumentation'),
        import('@opentelemetry/instrumentation-undici'),
      ]);
      // Calls outside a request (config polls, Vault renewals) would each start a trace of their own.
      registerInstrumentations({
        tracerProvider: provider,
        instrumentations: [new UndiciInstrumentation({ requireParentforSpans: true })],
      });
      // A span from process start to here, sent with the first batch. That batch starts the export worker, after
      // readiness: a worker thread's start is ~40 ms of CPU, ~0.3 s of the pod's 0.2 CPU.
      provider
        .getTracer('user-service.lifecycle')
        .startSpan(
          'start-up',
          { startTime: performance.timeOrigin, attributes: { [KEPT_AS]: 'start-up' } },
          ROOT_CONTEXT,
        )
        .end();
    },
    reportProblemsTo(logger) {
      let quietUntil = 0;
      const report = (problem: string) => {
        const now = Date.now();
        if (now < quietUntil) return;
        quietUntil = now + PROBLEM_LOG_INTERVAL_MS;
        logger.warn(
          { problem, endpoint: options.endpoint },
          'tracing: spans could not be exported or were dropped (repeats are silenced for a minute)',
        );
      };
      setGlobalErrorHandler((error) => report(String((error as Error)?.message ?? error)));
      const toReport = (message: string, ...args: unknown[]) => report([message, ...args].join(' '));
      const ignore = () => {};
      diag.setLogger(
        { error: toReport, warn: toReport, info: ignore, debug: ignore, verbose: ignore },
        { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
      );
    },
    async shutdown() {
      await Promise.race([provider.shutdown(), delay(SHUTDOWN_BOUND_MS, undefined, { ref: false })]);
    },
  };
}
