import { median, ratio, round } from './stats.ts';

export const SCENARIOS = ['get-by-id', 'list', 'post'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
export const STORAGES = ['memory', 'pglite', 'postgres'] as const;
export type Storage = (typeof STORAGES)[number];
/** The two baselines serve the same routes over an in-memory map, so their storage is always `memory`. */
export const BASELINES = { node: 'node-raw', go: 'go' } as const;
/** `user-service+image-flags`: the same bundle started with the container image's NODE_OPTIONS (opt-in). */
export const IMAGE_FLAGS_CONTENDER = 'user-service+image-flags';
/** The bundle with every request traced (OTEL_TRACES_SAMPLER_ARG=1), beside `user-service` at its defaults. */
export const TRACING_ALL_CONTENDER = 'user-service+tracing-1';
/** The bundle with no OTLP endpoint, so tracing is off: the reference for what tracing costs. */
export const TRACING_OFF_CONTENDER = 'user-service+tracing-off';
/** Fastify + pino request logs + prom-client + the OpenTelemetry SDK: the assembly a team builds by hand. */
export const ECOSYSTEM_CONTENDER = 'ecosystem';
/** node:http + a `pg` pool inserting into the service's table: the PostgreSQL limit for POST. */
export const PG_RAW_CONTENDER = 'pg-raw';
export type ContenderName =
  | 'user-service'
  | typeof IMAGE_FLAGS_CONTENDER
  | typeof TRACING_ALL_CONTENDER
  | typeof TRACING_OFF_CONTENDER
  | typeof ECOSYSTEM_CONTENDER
  | typeof PG_RAW_CONTENDER
  | typeof BASELINES.node
  | typeof BASELINES.go;

/** One measured load run of one contender. */
export interface Measurement {
  scenario: ScenarioName;
  storage: Storage;
  contender: ContenderName;
  round: number;
  req_per_s: number;
  p50_ms: number;
  p99_ms: number;
  /** Peak VmRSS during the run. */
  rss_mb: number;
  /** Responses outside 2xx plus socket errors: a run with many is not a valid throughput figure. */
  failed: number;
  requests: number;
}

/** One line of results/latest.json: the median over rounds, with ratios to the baselines of the same run. */
export interface ScenarioRow {
  name: ScenarioName;
  storage: Storage;
  contender: ContenderName;
  req_per_s: number;
  p50_ms: number;
  p99_ms: number;
  rss_mb: number;
  ratio_vs_node: number | null;
  ratio_vs_go: number | null;
}

export interface BenchResults {
  machine: Record<string, unknown>;
  date: string;
  scenarios: ScenarioRow[];
  [extra: string]: unknown;
}

const CONTENDER_ORDER: ContenderName[] = [
  'user-service',
  TRACING_OFF_CONTENDER,
  TRACING_ALL_CONTENDER,
  IMAGE_FLAGS_CONTENDER,
  ECOSYSTEM_CONTENDER,
  PG_RAW_CONTENDER,
  BASELINES.node,
  BASELINES.go,
];

/** A load run's figures in the pod-mode and constant-rate tables. */
export interface RunFigures {
  req_per_s: number;
  p50_ms: number;
  p99_ms: number;
  failed: number;
  status_5xx: number;
  status_503: number;
}

/** One contender under the Deployment's limits: a cold start loaded at once, and a warmed start. */
export interface PodRow {
  contender: ContenderName;
  storage: Storage;
  scenario: ScenarioName;
  /** Spawn to the first 200 from /readyz under the limits, median of the starts. */
  ready_ms: number;
  /**
   * Spawn to the server's first answer (a 503 from /readyz while it warms up), median of the starts; absent in
   * results from before it was measured.
   */
  listen_ms?: number;
  cold: RunFigures;
  warm: RunFigures;
  /** 503 answers to POST /users in the 5 s after ready (light constant-rate traffic). */
  post_503_after_ready: number;
  /** Kernel-kept peak of the cgroup's memory over both starts; null where the mechanism keeps none. */
  peak_memory_mb: number | null;
  oom_kills: number | null;
  throttled_ms: number | null;
  ratio_vs_node: number | null;
}

/**
 * Two contenders under the same limits at the same time: each in its own group, both pinned to the server core,
 * each loaded by its own generator in parallel. Whatever else the machine does slows both alike, so their ratio
 * holds where sequential runs on a shared machine vary by 2x.
 */
export interface PodPair {
  /** The contender whose figure is compared (user-service at its defaults, or at tracing ratio 1). */
  a: string;
  /** The reference (raw node:http, or the service with tracing off). */
  b: string;
  scenario: ScenarioName;
  a_req_per_s: number;
  b_req_per_s: number;
  /** a / b */
  ratio: number | null;
}

export interface SoakRow {
  contender: ContenderName;
  storage: Storage;
  scenario: ScenarioName;
  duration_s: number;
  run: RunFigures;
  requests: number;
  peak_memory_mb: number | null;
  oom_kills: number | null;
  /** The process ended (crashed or was killed) before the soak did. */
  exited: boolean;
}

/** Latency at a fixed offered rate (half the contender's own saturated rate), coordinated omission corrected. */
export interface ConstantRateRow {
  name: ScenarioName;
  storage: Storage;
  contender: ContenderName;
  rate: number;
  req_per_s: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  failed: number;
  generator_lag_p99_ms: number;
}

export function contenderLabel(contender: ContenderName, storage: Storage): string {
  return contender.startsWith('user-service') || contender === PG_RAW_CONTENDER
    ? `${contender}/${storage}`
    : contender;
}

/**
 * Medians per (scenario, storage, contender) over the rounds; RSS is the peak over every round, as it is a
 * ceiling. Ratios compare throughput with the baseline's median for the same scenario in the same run.
 */
export function aggregate(measurements: readonly Measurement[]): ScenarioRow[] {
  const groups = new Map<string, Measurement[]>();
  for (const m of measurements) {
    const key = `${m.scenario}|${m.storage}|${m.contender}`;
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  const rows: ScenarioRow[] = [];
  for (const runs of groups.values()) {
    const first = runs[0]!;
    rows.push({
      name: first.scenario,
      storage: first.storage,
      contender: first.contender,
      req_per_s: Math.round(median(runs.map((r) => r.req_per_s))),
      p50_ms: round(median(runs.map((r) => r.p50_ms)), 2),
      p99_ms: round(median(runs.map((r) => r.p99_ms)), 2),
      rss_mb: round(Math.max(...runs.map((r) => r.rss_mb)), 1),
      ratio_vs_node: null,
      ratio_vs_go: null,
    });
  }
  for (const row of rows) {
    const baseline = (contender: ContenderName) =>
      rows.find((r) => r.name === row.name && r.contender === contender)?.req_per_s;
    row.ratio_vs_node = ratio(row.req_per_s, baseline(BASELINES.node));
    row.ratio_vs_go = ratio(row.req_per_s, baseline(BASELINES.go));
  }
  return rows.sort(
    (a, b) =>
      SCENARIOS.indexOf(a.name) - SCENARIOS.indexOf(b.name) ||
      CONTENDER_ORDER.indexOf(a.contender) - CONTENDER_ORDER.indexOf(b.contender) ||
      STORAGES.indexOf(a.storage) - STORAGES.indexOf(b.storage),
  );
}

/** The keys every scenario entry of latest.json carries, in order. */
export const ROW_KEYS = [
  'name',
  'storage',
  'contender',
  'req_per_s',
  'p50_ms',
  'p99_ms',
  'rss_mb',
  'ratio_vs_node',
  'ratio_vs_go',
] as const satisfies readonly (keyof ScenarioRow)[];
