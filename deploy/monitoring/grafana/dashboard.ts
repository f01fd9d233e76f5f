import { renderQuery } from '../queries.ts';

/**
 * The user-service Grafana dashboard, written as code so its shared-query panels are renderQuery output by
 * construction; `node deploy/monitoring/build.ts` writes user-service-dashboard.json, which the Grafana sidecar
 * loads from a ConfigMap. Tests check the JSON against this builder and against renderQuery.
 */

/** Grafana variables the panel queries use; a test replaces them to evaluate every query in a real Prometheus. */
export const DASHBOARD_VARIABLES = ['$service', '$namespace', '$__rate_interval', '$datasource'] as const;

/** Every panel reads one environment (namespace): one Prometheus scrapes dev, staging and prod. */
export const DASHBOARD_SELECTORS = {
  all: 'service="$service",namespace="$namespace"',
  stable: 'service="$service",namespace="$namespace",canary="false"',
  canary: 'service="$service",namespace="$namespace",canary="true"',
} as const;

const WINDOW = '$__rate_interval';
const shared = (name: string, selector: string = DASHBOARD_SELECTORS.all) =>
  renderQuery(name, { selector, window: WINDOW });

/** One shared query drawn once per track, so the stable and canary lines always use the same expression. */
const byTrack = (name: string): Target[] => [
  { expr: shared(name, DASHBOARD_SELECTORS.stable), legendFormat: 'stable' },
  { expr: shared(name, DASHBOARD_SELECTORS.canary), legendFormat: 'canary' },
];

interface Target {
  expr: string;
  legendFormat: string;
}

interface PanelOptions {
  title: string;
  description: string;
  unit: string;
  targets: Target[];
  type?: 'timeseries' | 'stat';
  width?: number;
  height?: number;
  thresholds?: { value: number; color: string }[];
  mappings?: unknown[];
  max?: number;
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: a Grafana variable, filled in by Grafana
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

function panel(options: PanelOptions) {
  return {
    type: options.type ?? 'timeseries',
    title: options.title,
    description: options.description,
    datasource: DATASOURCE,
    width: options.width ?? 12,
    height: options.height ?? 8,
    fieldConfig: {
      defaults: {
        unit: options.unit,
        ...(options.max !== undefined ? { max: options.max } : {}),
        ...(options.mappings ? { mappings: options.mappings } : {}),
        thresholds: {
          mode: 'absolute',
          steps: [{ value: null, color: 'green' }, ...(options.thresholds ?? [])],
        },
        ...(options.type === 'stat'
          ? {}
          : {
              custom: {
                drawStyle: 'line',
                lineWidth: 1,
                fillOpacity: 10,
                showPoints: 'never',
                thresholdsStyle: { mode: options.thresholds ? 'line' : 'off' },
              },
            }),
      },
      overrides: [],
    },
    options:
      options.type === 'stat'
        ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'background' }
        : { legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'] } },
    targets: options.targets.map((target, index) => ({
      datasource: DATASOURCE,
      refId: String.fromCharCode(65 + index),
      expr: target.expr,
      legendFormat: target.legendFormat,
      range: true,
    })),
  };
}

const P99_LIMIT = [{ value: 0.8, color: 'red' }];
const BREAKER_STATES = [
  {
    type: 'value',
    options: {
      '0': { text: 'closed', color: 'green' },
      '1': { text: 'half-open', color: 'orange' },
      '2': { text: 'open', color: 'red' },
    },
  },
];

const rows: { title: string; panels: ReturnType<typeof panel>[] }[] = [
  {
    title: 'Overview (RED)',
    panels: [
      panel({
        type: 'stat',
        width: 6,
        height: 4,
        title: 'Requests per second',
        description: 'Shared query request_rate.',
        unit: 'reqps',
        targets: [{ expr: shared('request_rate'), legendFormat: 'requests' }],
      }),
      panel({
        type: 'stat',
        width: 6,
        height: 4,
        title: 'Error ratio (5xx)',
        description: 'Shared query error_ratio; the SLO allows 0.1 %.',
        unit: 'percentunit',
        thresholds: [
          { value: 0.001, color: 'orange' },
          { value: 0.05, color: 'red' },
        ],
        targets: [{ expr: shared('error_ratio'), legendFormat: 'errors' }],
      }),
      panel({
        type: 'stat',
        width: 6,
        height: 4,
        title: 'P99 latency',
        description: 'Shared query p99_latency_seconds; alert and canary gate at 800 ms.',
        unit: 's',
        thresholds: P99_LIMIT,
        targets: [{ expr: shared('p99_latency_seconds'), legendFormat: 'p99' }],
      }),
      panel({
        type: 'stat',
        width: 6,
        height: 4,
        title: 'Requests in flight',
        description: 'Requests being served right now, all instances.',
        unit: 'short',
        targets: [
          {
            expr: 'sum(http_requests_in_flight{service="$service",namespace="$namespace"})',
            legendFormat: 'in flight',
          },
        ],
      }),
      panel({
        title: 'Requests by route and status',
        description: 'Rate by route template and status code.',
        unit: 'reqps',
        targets: [
          {
            expr: `sum by (route, status_code) (rate(http_requests_total{service="$service",namespace="$namespace"}[${WINDOW}]))`,
            legendFormat: '{{route}} {{status_code}}',
          },
        ],
      }),
      panel({
        title: 'Errors by kind',
        description: 'Problem documents answered: business (4xx), system (500), dependency (503).',
        unit: 'reqps',
        targets: [
          {
            expr: `sum by (kind) (rate(app_errors_total{service="$service",namespace="$namespace"}[${WINDOW}]))`,
            legendFormat: '{{kind}}',
          },
          { expr: shared('error_rate'), legendFormat: '5xx responses' },
        ],
      }),
    ],
  },
  {
    title: 'Latency',
    panels: [
      panel({
        title: 'Latency quantiles',
        description: 'Shared queries p50/p95/p99_latency_seconds; the red line is the 800 ms P99 limit.',
        unit: 's',
        thresholds: P99_LIMIT,
        targets: [
          { expr: shared('p50_latency_seconds'), legendFormat: 'p50' },
          { expr: shared('p95_latency_seconds'), legendFormat: 'p95' },
          { expr: shared('p99_latency_seconds'), legendFormat: 'p99' },
        ],
      }),
      panel({
        title: 'P99 by route',
        description: 'Which route template is slow.',
        unit: 's',
        thresholds: P99_LIMIT,
        targets: [
          {
            expr: `histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{service="$service",namespace="$namespace"}[${WINDOW}])))`,
            legendFormat: '{{route}}',
          },
        ],
      }),
      panel({
        title: 'Slow requests',
        description:
          'Shared queries slow_request_rate and slow_request_ratio: requests above SLOW_REQUEST_MS, each also a WARN log line with slow=true and its trace_id.',
        unit: 'reqps',
        targets: [
          { expr: shared('slow_request_rate'), legendFormat: 'slow requests/s' },
          {
            expr: `sum by (route) (rate(http_slow_requests_total{service="$service",namespace="$namespace"}[${WINDOW}]))`,
            legendFormat: '{{route}}',
          },
        ],
      }),
      panel({
        title: 'Slow request ratio',
        description: 'Shared query slow_request_ratio; the warning alert fires above 1 %.',
        unit: 'percentunit',
        thresholds: [{ value: 0.01, color: 'orange' }],
        targets: [{ expr: shared('slow_request_ratio'), legendFormat: 'slow share' }],
      }),
    ],
  },
  {
    title: 'Stable vs canary',
    panels: [
      panel({
        title: 'P99: stable vs canary',
        description:
          'The canary analysis compares these two with the 800 ms limit (shared query p99_latency_seconds).',
        unit: 's',
        thresholds: P99_LIMIT,
        targets: byTrack('p99_latency_seconds'),
      }),
      panel({
        title: 'Error ratio: stable vs canary',
        description: 'Shared query error_ratio for each track.',
        unit: 'percentunit',
        targets: byTrack('error_ratio'),
      }),
      panel({
        title: 'Traffic: stable vs canary',
        description: 'Shared query request_rate for each track.',
        unit: 'reqps',
        targets: byTrack('request_rate'),
      }),
      panel({
        title: 'Traffic by version',
        description: 'Requests per second by APP_VERSION and canary flag.',
        unit: 'reqps',
        targets: [
          {
            expr: `sum by (version, canary) (rate(http_requests_total{service="$service",namespace="$namespace"}[${WINDOW}]))`,
            legendFormat: '{{version}} canary={{canary}}',
          },
        ],
      }),
    ],
  },
  {
    title: 'Runtime',
    panels: [
      panel({
        width: 8,
        title: 'Event-loop lag',
        description: 'p99 and mean event-loop delay per instance (prom-client, perf_hooks histogram).',
        unit: 's',
        targets: [
          {
            expr: 'max by (instance) (nodejs_eventloop_lag_p99_seconds{service="$service",namespace="$namespace"})',
            legendFormat: 'p99 {{instance}}',
          },
          {
            expr: 'max by (instance) (nodejs_eventloop_lag_mean_seconds{service="$service",namespace="$namespace"})',
            legendFormat: 'mean {{instance}}',
          },
        ],
      }),
      panel({
        width: 8,
        title: 'Heap and RSS',
        description: 'V8 heap used/total and resident memory per instance.',
        unit: 'bytes',
        targets: [
          {
            expr: 'sum by (instance) (nodejs_heap_size_used_bytes{service="$service",namespace="$namespace"})',
            legendFormat: 'heap used {{instance}}',
          },
          {
            expr: 'sum by (instance) (nodejs_heap_size_total_bytes{service="$service",namespace="$namespace"})',
            legendFormat: 'heap total {{instance}}',
          },
          {
            expr: 'sum by (instance) (process_resident_memory_bytes{service="$service",namespace="$namespace"})',
            legendFormat: 'rss {{instance}}',
          },
        ],
      }),
      panel({
        width: 8,
        title: 'GC time per second',
        description: 'Seconds spent in garbage collection per second, by GC kind.',
        unit: 's',
        targets: [
          {
            expr: `sum by (kind) (rate(nodejs_gc_duration_seconds_sum{service="$service",namespace="$namespace"}[${WINDOW}]))`,
            legendFormat: '{{kind}}',
          },
        ],
      }),
      panel({
        width: 12,
        title: 'CPU',
        description: 'CPU seconds per second per instance (1 = one core).',
        unit: 'short',
        targets: [
          {
            expr: `sum by (instance) (rate(process_cpu_seconds_total{service="$service",namespace="$namespace"}[${WINDOW}]))`,
            legendFormat: '{{instance}}',
          },
        ],
      }),
    ],
  },
  {
    title: 'Dependencies',
    panels: [
      panel({
        title: 'Database pool',
        description:
          'Connections in use, idle and callers waiting for one; waiting above 0 means the pool is the bottleneck.',
        unit: 'short',
        targets: [
          {
            expr: 'sum by (state) (db_pool_connections{service="$service",namespace="$namespace"})',
            legendFormat: '{{state}}',
          },
        ],
      }),
      panel({
        title: 'Circuit breakers',
        description: 'State per breaker: 0 closed, 1 half-open, 2 open (worst instance).',
        unit: 'short',
        max: 2,
        mappings: BREAKER_STATES,
        thresholds: [
          { value: 1, color: 'orange' },
          { value: 2, color: 'red' },
        ],
        targets: [
          {
            expr: 'max by (breaker) (circuit_breaker_state{service="$service",namespace="$namespace"})',
            legendFormat: '{{breaker}}',
          },
        ],
      }),
      panel({
        title: 'Risk checks by outcome',
        description:
          'allow, review, deny, or degraded (risk service failed or breaker open; user pending_review).',
        unit: 'reqps',
        targets: [
          {
            expr: `sum by (outcome) (rate(risk_checks_total{service="$service",namespace="$namespace"}[${WINDOW}]))`,
            legendFormat: '{{outcome}}',
          },
        ],
      }),
    ],
  },
];

/** Lays the rows out on Grafana's 24-column grid, left to right, top to bottom. */
function layout() {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of rows) {
    panels.push({
      type: 'row',
      id: id++,
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const { width, height, ...rest } of row.panels) {
      if (x + width > 24) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      panels.push({ id: id++, gridPos: { h: height, w: width, x, y }, ...rest });
      x += width;
      rowHeight = Math.max(rowHeight, height);
    }
    y += rowHeight;
  }
  return panels;
}

export function buildDashboard(): Record<string, unknown> {
  return {
    uid: 'user-service',
    title: 'user-service',
    description: 'RED, latency, stable vs canary, runtime and dependencies of user-service.',
    tags: ['user-service', 'generated'],
    timezone: 'utc',
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Data source',
          type: 'datasource',
          query: 'prometheus',
          current: {},
          hide: 0,
        },
        {
          name: 'service',
          label: 'Service',
          type: 'query',
          datasource: DATASOURCE,
          query: { query: 'label_values(http_requests_total, service)', refId: 'service' },
          definition: 'label_values(http_requests_total, service)',
          current: { text: 'user-service', value: 'user-service' },
          refresh: 2,
          hide: 0,
        },
        {
          name: 'namespace',
          label: 'Environment',
          type: 'query',
          datasource: DATASOURCE,
          query: {
            query: 'label_values(http_requests_total{service="$service"}, namespace)',
            refId: 'namespace',
          },
          definition: 'label_values(http_requests_total{service="$service"}, namespace)',
          current: { text: 'user-service', value: 'user-service' },
          refresh: 2,
          hide: 0,
        },
      ],
    },
    annotations: { list: [] },
    panels: layout(),
  };
}

export interface DashboardTarget {
  panel: string;
  refId: string;
  expr: string;
}

/** Every query of every panel in a dashboard document (the committed JSON or buildDashboard()). */
export function dashboardTargets(dashboard: { panels?: unknown[] }): DashboardTarget[] {
  const found: DashboardTarget[] = [];
  for (const item of (dashboard.panels ?? []) as {
    title: string;
    targets?: { refId: string; expr: string }[];
    panels?: unknown[];
  }[]) {
    for (const target of item.targets ?? [])
      found.push({ panel: item.title, refId: target.refId, expr: target.expr });
    if (item.panels) found.push(...dashboardTargets({ panels: item.panels }));
  }
  return found;
}

/** Fills the Grafana variables the way Grafana would, so a query can be sent to Prometheus as it is. */
export function resolveVariables(
  expr: string,
  values: { service: string; namespace: string; rateInterval: string },
): string {
  return expr
    .replaceAll('$__rate_interval', values.rateInterval)
    .replaceAll('$service', values.service)
    .replaceAll('$namespace', values.namespace);
}
