import { collectDefaultMetrics, Histogram, register } from 'prom-client';

export interface MetricsIdentity {
  service: string;
  version: string;
  /** This instance is a canary (from the pod label); requests may still mark themselves canary per request. */
  canary: boolean;
}

let runtimeMetricsStarted = false;

/**
 * Sets the labels every series carries and starts the Node runtime metrics (event-loop lag, GC, heap). Everything
 * lives in prom-client's default registry, which GET /metrics serves and where other platform modules already
 * register their counters. Idempotent: tests build several apps in one process.
 */
export function configureMetrics(identity: MetricsIdentity): void {
  register.setDefaultLabels({
    service: identity.service,
    version: identity.version,
    canary: String(identity.canary),
  });
  if (runtimeMetricsStarted || register.getSingleMetric('nodejs_eventloop_lag_seconds')) return;
  runtimeMetricsStarted = true;
  collectDefaultMetrics();
}

/** Get-or-create, like the shared counters and gauges: a second registration of one name would throw. */
export function sharedHistogram<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets: number[],
): Histogram<L> {
  const existing = register.getSingleMetric(name);
  if (existing) return existing as Histogram<L>;
  return new Histogram({ name, help, labelNames, buckets });
}

/** The Prometheus text exposition of the default registry. */
export function renderMetrics(): Promise<string> {
  return register.metrics();
}

export const METRICS_CONTENT_TYPE = register.contentType;
