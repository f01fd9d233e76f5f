import { setTimeout as delay } from 'node:timers/promises';
import { context, DiagLogLevel, diag, trace } from '@opentelemetry/api';
import { getRPCMetadata, RPCType, setGlobalErrorHandler } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-node';
import {
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
} from '@opentelemetry/semantic-conventions';
import type { Tracing } from './tracing-hooks.ts';
import { markTracingStarted } from './tracing-state.ts';

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

/** Paths that are not traced: probes and scrapes would be most of the spans and tell nothing. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/startupz', '/metrics']);

/**
 * Starts the OpenTelemetry SDK: W3C trace context in and out, spans for incoming HTTP (node:http, under Fastify)
 * and outgoing HTTP (fetch/undici), exported in batches as OTLP JSON. Must run before Fastify is loaded, because
 * the HTTP instrumentation patches node:http when it is required. SQL spans are made by the database layer.
 */
export function startTracing(options: TracingOptions): Tracing {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.service,
      [ATTR_SERVICE_VERSION]: options.version,
      canary: options.canary,
    }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio) }),
    spanProcessors: [
      new BatchSpanProcessor(
        new OTLPTraceExporter({
          url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces`,
          timeoutMillis: EXPORT_TIMEOUT_MS,
        }),
      ),
    ],
  });
  // Registers the AsyncLocalStorage context manager and the W3C traceparent/baggage propagator.
  provider.register();
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has((request.url ?? '').split('?')[0] ?? ''),
        // Background calls (config centre polls, Vault renewals) would each start a trace of their own.
        requireParentforOutgoingSpans: true,
      }),
      new UndiciInstrumentation({ requireParentforSpans: true }),
    ],
  });
  markTracingStarted();

  return {
    http: {
      activeTraceId: () => trace.getSpan(context.active())?.spanContext().traceId,
      routeMatched(route) {
        const metadata = getRPCMetadata(context.active());
        if (metadata?.type === RPCType.HTTP) {
          metadata.route = route;
          metadata.span.setAttribute(ATTR_HTTP_ROUTE, route);
        }
      },
    },
    logFields(): Record<string, string> {
      // A fresh object every time: pino merges the line's own fields into what the mixin returns.
      const span = trace.getSpan(context.active());
      if (span === undefined) return {};
      const ids = span.spanContext();
      return { trace_id: ids.traceId, span_id: ids.spanId };
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
