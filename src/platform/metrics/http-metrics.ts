import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Counter, Registry } from 'prom-client';
import { counter, gauge, seriesCounter, seriesHistogram } from './metrics-registry.ts';
import type { CounterSeries, HistogramSeries } from './series-metrics.ts';

/** 0.8 and 1 are bounds so that "P99 above 800 ms" and "slower than 1 s" are decidable from the buckets. */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.8, 1, 2.5, 5, 10];

/** The route label of a request no route matched: one series, whatever paths scanners try. */
export const UNMATCHED_ROUTE = 'unmatched';

type HttpLabel = 'method' | 'route' | 'status_code' | 'canary';
type HttpLabels = Record<HttpLabel, string>;

const requestDuration = (registry: Registry) =>
  seriesHistogram<HttpLabel>(
    registry,
    'http_request_duration_seconds',
    'HTTP request duration, from the request reaching the handler chain to the last byte written, by route template.',
    ['method', 'route', 'status_code', 'canary'],
    HTTP_DURATION_BUCKETS,
  );
const requestsTotal = (registry: Registry) =>
  seriesCounter<HttpLabel>(registry, 'http_requests_total', 'HTTP requests answered, by route template.', [
    'method',
    'route',
    'status_code',
    'canary',
  ]);
const slowRequestsTotal = (registry: Registry) =>
  counter<'method' | 'route' | 'canary'>(
    registry,
    'http_slow_requests_total',
    'HTTP requests slower than SLOW_REQUEST_MS (each also logged at WARN with slow: true).',
    ['method', 'route', 'canary'],
  );

/** Requests in flight per registry: a plain number on the hot path, read by the gauge at scrape time. */
interface InFlight {
  count: number;
  closed: () => void;
}
const inFlightOf = new WeakMap<Registry, InFlight>();

function inFlightIn(registry: Registry): InFlight {
  const known = inFlightOf.get(registry);
  if (known) return known;
  const inFlight: InFlight = {
    count: 0,
    closed: () => {
      inFlight.count -= 1;
    },
  };
  inFlightOf.set(registry, inFlight);
  gauge(registry, 'http_requests_in_flight', 'HTTP requests being served right now.', [], function collect() {
    this.set(inFlight.count);
  });
  return inFlight;
}

/** Stands in for the route config of requests that never reached a route. */
const NO_ROUTE_CONFIG = {};

/** The labelled series of one route, method and outcome, kept so they are looked up once. */
interface OutcomeSeries {
  duration: HistogramSeries;
  total: CounterSeries;
  /** Made at the first slow request of the outcome. */
  slow: Counter.Internal | undefined;
  labels: HttpLabels;
}

/**
 * RED metrics for every non-probe request. The labelled series are cached per route and outcome and updated in
 * place (series-metrics.ts), so the hot path builds no strings or objects and hashes no labels; the in-flight count
 * is a plain number read at scrape time. The rare slow-request counter stays a prom-client child.
 */
export class HttpMetrics {
  readonly #duration: ReturnType<typeof requestDuration>;
  readonly #total: ReturnType<typeof requestsTotal>;
  readonly #slow: ReturnType<typeof slowRequestsTotal>;
  readonly #inFlight: InFlight;
  /** Read per request: Argo Rollouts relabels a promoted canary pod in place, without a restart. */
  readonly #canary: () => boolean;
  /** route config object (stable per route) → method → status * 2 + canary → series */
  readonly #series = new WeakMap<object, Map<string, Map<number, OutcomeSeries>>>();

  constructor(options: { registry: Registry; canary: () => boolean }) {
    this.#duration = requestDuration(options.registry);
    this.#total = requestsTotal(options.registry);
    this.#slow = slowRequestsTotal(options.registry);
    this.#inFlight = inFlightIn(options.registry);
    this.#canary = options.canary;
  }

  /** Counts the request in flight until its response closes: 'close' comes once, finished or aborted. */
  requestStarted(reply: FastifyReply): void {
    this.#inFlight.count += 1;
    reply.raw.on('close', this.#inFlight.closed);
  }

  requestCompleted(
    request: FastifyRequest,
    routeConfig: object | undefined,
    route: string | undefined,
    statusCode: number,
    seconds: number,
    slow: boolean,
  ): void {
    // The pod's identity alone: a client-sent header must not move requests into the canary's series.
    const canary = this.#canary();
    const config = routeConfig ?? NO_ROUTE_CONFIG;
    let byMethod = this.#series.get(config);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.#series.set(config, byMethod);
    }
    let byOutcome = byMethod.get(request.method);
    if (byOutcome === undefined) {
      byOutcome = new Map();
      byMethod.set(request.method, byOutcome);
    }
    const key = statusCode * 2 + (canary ? 1 : 0);
    let series = byOutcome.get(key);
    if (series === undefined) {
      const labels: HttpLabels = {
        method: request.method,
        route: route ?? UNMATCHED_ROUTE,
        status_code: String(statusCode),
        canary: String(canary),
      };
      series = {
        duration: this.#duration.series(labels),
        total: this.#total.series(labels),
        slow: undefined,
        labels,
      };
      byOutcome.set(key, series);
    }
    series.duration.observe(seconds);
    series.total.inc();
    if (slow) {
      const { method, route: template, canary: canaryLabel } = series.labels;
      series.slow ??= this.#slow.labels({ method, route: template, canary: canaryLabel });
      series.slow.inc();
    }
  }
}
