import { parseArgs } from 'node:util';
import { SCENARIOS, type ScenarioName, STORAGES, type Storage } from './results.ts';

/**
 * Which parts a run measures: all (the default), only the pod-limited runs, only the unconstrained ones (with the
 * request-cost probes), or only the request-cost probes.
 */
export type Mode = 'full' | 'pod' | 'unconstrained' | 'costs';

export interface BenchOptions {
  mode: Mode;
  quick: boolean;
  durationS: number;
  warmupS: number;
  /** Warm-up of a fresh process's first scenario: V8 still compiles the request path and grows its heap. */
  firstWarmupS: number;
  rounds: number;
  connections: number;
  scenarios: ScenarioName[];
  storages: Storage[];
  loadgen: 'auto' | 'wrk' | 'autocannon';
  startupRuns: number;
  /** Seconds of the constant-rate run after each saturating one; 0 skips it. */
  constantRateS: number;
  /** Pod mode: seconds of the cold run (loaded from ready) and of the warm run (after 5 s of light traffic). */
  podColdS: number;
  podWarmS: number;
  /** Pod mode: seconds of the saturation soak (300 with --soak). */
  soakS: number;
  /** Trace sampling ratio of `user-service`; undefined: the service's own default. */
  sampleRatio: number | undefined;
  build: boolean;
  /** Extra Node flags for the unconstrained user-service, e.g. `--max-old-space-size=80`. */
  nodeOptions: string[];
  /** Also run it (memory:// only) with the image's NODE_OPTIONS as user-service+image-flags. */
  imageFlags: boolean;
  /** Where latest.{json,svg,md} go; undefined for --costs without --out, which only prints its table. */
  outDir: string | undefined;
  help: boolean;
}

export const USAGE = `npm run bench -- [options]
  (no mode)           the full run: unconstrained rounds, then pod mode with a 60 s soak
  --pod               pod mode only: every contender under the Deployment's CPU/memory limits and NODE_OPTIONS
  --unconstrained     the unconstrained rounds only (and the request-cost probes)
  --costs             only where a request's CPU goes, part by part (in-process probes, about 30 s)
  --soak              pod mode's saturation soak lasts 5 minutes (default 60 s)
  --quick             short everything (1 round of 3 s, 5 s cold and warm pod runs, 10 s soak): for development
  --duration S        measured seconds per unconstrained run (default 8)
  --warmup S          warm-up seconds before each measured run (default 2)
  --first-warmup S    warm-up seconds before a fresh process's first measured run (default 10)
  --rounds N          interleaved rounds; figures are medians over rounds (default 2)
  --connections N     concurrent connections (default 50)
  --constant-rate S   seconds of the constant-rate run at half the saturated rate (default 8; 0 skips)
  --only LIST         scenarios: ${SCENARIOS.join(',')} (default all)
  --storage LIST      user-service storages: ${STORAGES.join(',')} (default all)
  --loadgen NAME      auto (wrk when installed, else autocannon), wrk or autocannon
  --startup-runs N    spawn-to-ready samples per storage (default 3)
  --sample-ratio R    trace sampling ratio of user-service (default: the service's own default)
  --no-build          use the existing dist/users/main.mjs
  --node-options S    Node flags for the unconstrained user-service (default none)
  --image-flags       also run it (memory:// only) with the image's NODE_OPTIONS as user-service+image-flags
  --out DIR           where latest.{json,svg,md} go (default bench/results; --costs only prints unless given)`;

function list<T extends string>(value: string | undefined, allowed: readonly T[], what: string): T[] {
  if (value === undefined) return [...allowed];
  const items = value.split(',').map((s) => s.trim()) as T[];
  const unknown = items.filter((i) => !allowed.includes(i));
  if (unknown.length > 0)
    throw new Error(`unknown ${what}: ${unknown.join(', ')} (known: ${allowed.join(', ')})`);
  return items;
}

function positive(value: string | undefined, fallback: number, what: string, integer = true): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n)))
    throw new Error(`bad --${what}: ${value}`);
  return n;
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      pod: { type: 'boolean' },
      unconstrained: { type: 'boolean' },
      costs: { type: 'boolean' },
      soak: { type: 'boolean' },
      quick: { type: 'boolean' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'first-warmup': { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      'constant-rate': { type: 'string' },
      only: { type: 'string' },
      storage: { type: 'string' },
      loadgen: { type: 'string' },
      'startup-runs': { type: 'string' },
      'sample-ratio': { type: 'string' },
      'no-build': { type: 'boolean' },
      'node-options': { type: 'string' },
      'image-flags': { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  const loadgen = values.loadgen ?? 'auto';
  if (loadgen !== 'auto' && loadgen !== 'wrk' && loadgen !== 'autocannon')
    throw new Error(`bad --loadgen: ${loadgen}`);
  const sampleRatio =
    values['sample-ratio'] === undefined
      ? undefined
      : positive(values['sample-ratio'], 1, 'sample-ratio', false);
  if (sampleRatio !== undefined && sampleRatio > 1) throw new Error('--sample-ratio is between 0 and 1');
  if ([values.pod, values.unconstrained, values.costs].filter(Boolean).length > 1)
    throw new Error('--pod, --unconstrained and --costs exclude each other');
  const quick = values.quick ?? false;
  return {
    mode: values.pod ? 'pod' : values.unconstrained ? 'unconstrained' : values.costs ? 'costs' : 'full',
    quick,
    durationS: Math.max(1, positive(values.duration, quick ? 3 : 8, 'duration')),
    warmupS: positive(values.warmup, quick ? 1 : 2, 'warmup'),
    firstWarmupS: positive(values['first-warmup'], quick ? 1 : 10, 'first-warmup'),
    rounds: Math.max(1, positive(values.rounds, quick ? 1 : 2, 'rounds')),
    connections: Math.max(1, positive(values.connections, 50, 'connections')),
    constantRateS: positive(values['constant-rate'], quick ? 3 : 8, 'constant-rate'),
    podColdS: quick ? 5 : 30,
    podWarmS: quick ? 5 : 20,
    soakS: values.soak ? 300 : quick ? 10 : 60,
    scenarios: list(values.only, SCENARIOS, 'scenario'),
    storages: list(values.storage, STORAGES, 'storage'),
    loadgen,
    startupRuns: positive(values['startup-runs'], quick ? 2 : 3, 'startup-runs'),
    sampleRatio,
    build: !values['no-build'],
    nodeOptions: (values['node-options'] ?? '').split(/\s+/).filter(Boolean),
    imageFlags: values['image-flags'] ?? false,
    // A costs-only run must not replace the committed full results (and the README block made from them).
    outDir: values.out ?? (values.costs ? undefined : 'bench/results'),
    help: values.help ?? false,
  };
}
