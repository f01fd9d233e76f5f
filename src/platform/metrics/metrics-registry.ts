import { Counter, collectDefaultMetrics, Gauge, Histogram, type Metric, Registry } from 'prom-client';
import { registerSeriesMetric, SeriesCounter, SeriesHistogram } from './series-metrics.ts';

export interface MetricsIdentity {
  service: string;
  version: string;
  /** This instance is a canary at start (from the pod label); the HTTP metrics read it per request. */
  canary: boolean;
}

/**
 * The registry of one service: created once at start-up (and by each test app) and passed to everything that
 * registers a metric, so two apps in one process never share a series. Every series carries the identity as
 * default labels, and the Node runtime metrics (event-loop lag, GC, heap) are collected into it.
 */
export function createMetricsRegistry(identity: MetricsIdentity): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({
    service: identity.service,
    version: identity.version,
    canary: String(identity.canary),
  });
  collectDefaultMetrics({ register: registry });
  return registry;
}

type MetricKind = 'counter' | 'gauge' | 'histogram';

/** What prom-client keeps on every metric object but leaves out of its types. */
interface RegisteredShape {
  labelNames?: readonly string[];
  upperBounds?: readonly number[];
}

function kindOf(metric: Metric): string {
  if (metric instanceof Counter || metric instanceof SeriesCounter) return 'counter';
  if (metric instanceof Gauge) return 'gauge';
  if (metric instanceof Histogram || metric instanceof SeriesHistogram) return 'histogram';
  return 'summary';
}

const list = (values: readonly (string | number)[]) => `[${values.join(', ')}]`;

/**
 * The metric already registered under `name`, if any. Registering the same metric again is how several owners
 * share one (breakers share `circuit_breaker_state`, the problem handler and load shedding `app_errors_total`);
 * the same name as another kind, with other labels or other buckets is a mistake, and fails here by name.
 */
function registered(
  registry: Registry,
  name: string,
  kind: MetricKind,
  labelNames: readonly string[],
  buckets?: readonly number[],
): Metric | undefined {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return undefined;
  const found = kindOf(metric);
  if (found !== kind) {
    throw new Error(`metric ${name} is already registered as a ${found}; it cannot also be a ${kind}`);
  }
  const shape = metric as unknown as RegisteredShape;
  const labels = shape.labelNames ?? [];
  if (labels.join('\0') !== labelNames.join('\0')) {
    throw new Error(
      `metric ${name} is already registered with labels ${list(labels)}; it cannot also have ${list(labelNames)}`,
    );
  }
  const bounds = shape.upperBounds ?? [];
  if (buckets !== undefined && bounds.join(',') !== buckets.join(',')) {
    throw new Error(
      `metric ${name} is already registered with buckets ${list(bounds)}; it cannot also have ${list(buckets)}`,
    );
  }
  return metric;
}

export function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
): Counter<L> {
  const existing = registered(registry, name, 'counter', labelNames);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/**
 * A gauge. With `collect` it is set at scrape time from state kept elsewhere; such a gauge has one owner, so a
 * second registration with its own `collect` fails rather than being silently ignored.
 */
export function gauge<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  collect?: (this: Gauge<L>) => void,
): Gauge<L> {
  const existing = registered(registry, name, 'gauge', labelNames);
  if (existing && collect) {
    throw new Error(`metric ${name} is already registered and read at scrape time by its first owner`);
  }
  if (existing) return existing as Gauge<L>;
  return new Gauge({ name, help, labelNames, registers: [registry], ...(collect ? { collect } : {}) });
}

export function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets: readonly number[],
): Histogram<L> {
  const existing = registered(registry, name, 'histogram', labelNames, buckets);
  if (existing) return existing as Histogram<L>;
  return new Histogram({ name, help, labelNames, buckets: [...buckets], registers: [registry] });
}

/** A counter whose callers hold their series (see series-metrics.ts): for counts made on every request. */
export function seriesCounter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
): SeriesCounter<L> {
  const existing = registered(registry, name, 'counter', labelNames);
  if (existing instanceof SeriesCounter) return existing as SeriesCounter<L>;
  if (existing) throw new Error(`metric ${name} is already registered as a counter without held series`);
  return registerSeriesMetric(registry, new SeriesCounter(name, help, labelNames));
}

/** A histogram whose callers hold their series (see series-metrics.ts): for observations made on every request. */
export function seriesHistogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets: readonly number[],
): SeriesHistogram<L> {
  const existing = registered(registry, name, 'histogram', labelNames, buckets);
  if (existing instanceof SeriesHistogram) return existing as SeriesHistogram<L>;
  if (existing) throw new Error(`metric ${name} is already registered as a histogram without held series`);
  return registerSeriesMetric(registry, new SeriesHistogram(name, help, labelNames, [...buckets]));
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
