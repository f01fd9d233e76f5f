import { parseArgs } from 'node:util';
import { SCENARIOS, type ScenarioName, STORAGES, type Storage } from './results.ts';

export interface BenchOptions {
  durationS: number;
  warmupS: number;
  rounds: number;
  connections: number;
  scenarios: ScenarioName[];
  storages: Storage[];
  loadgen: 'auto' | 'wrk' | 'autocannon';
  startupRuns: number;
  sampleRatio: number;
  build: boolean;
  /** Extra Node flags for the user-service, e.g. the image's `--max-old-space-size=80 --enable-source-maps`. */
  nodeOptions: string[];
  /** Also run the bundle with the image's NODE_OPTIONS (memory:// only), as contender user-service+image-flags. */
  imageFlags: boolean;
  outDir: string;
}

export const USAGE = `npm run bench -- [options]
  --duration S        measured seconds per run (default 10)
  --warmup S          warm-up seconds before each measured run (default 3)
  --rounds N          interleaved rounds; figures are medians over rounds (default 3)
  --connections N     concurrent connections (default 50)
  --only LIST         scenarios: ${SCENARIOS.join(',')} (default all)
  --storage LIST      user-service storages: ${STORAGES.join(',')} (default all)
  --loadgen NAME      auto (wrk when installed, else autocannon), wrk or autocannon
  --startup-runs N    spawn-to-ready samples per storage (default 5)
  --sample-ratio R    trace sampling ratio for the user-service (default 1: every request traced)
  --no-build          use the existing dist/users/main.mjs
  --node-options S    Node flags for the user-service (default none: \`node dist/users/main.mjs\`)
  --image-flags       also run it (memory:// only) with the image's NODE_OPTIONS as user-service+image-flags
  --out DIR           where latest.{json,svg,md} go (default bench/results)`;

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
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
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
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const loadgen = values.loadgen ?? 'auto';
  if (loadgen !== 'auto' && loadgen !== 'wrk' && loadgen !== 'autocannon')
    throw new Error(`bad --loadgen: ${loadgen}`);
  const sampleRatio = positive(values['sample-ratio'], 1, 'sample-ratio', false);
  if (sampleRatio > 1) throw new Error('--sample-ratio is between 0 and 1');
  return {
    durationS: Math.max(1, positive(values.duration, 10, 'duration')),
    warmupS: positive(values.warmup, 3, 'warmup'),
    rounds: Math.max(1, positive(values.rounds, 3, 'rounds')),
    connections: Math.max(1, positive(values.connections, 50, 'connections')),
    scenarios: list(values.only, SCENARIOS, 'scenario'),
    storages: list(values.storage, STORAGES, 'storage'),
    loadgen,
    startupRuns: positive(values['startup-runs'], 5, 'startup-runs'),
    sampleRatio,
    build: !values['no-build'],
    nodeOptions: (values['node-options'] ?? '').split(/\s+/).filter(Boolean),
    imageFlags: values['image-flags'] ?? false,
    outDir: values.out ?? 'bench/results',
  };
}
