import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, hostname, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { evaluateBudgets, formatBudgets } from './lib/budgets.ts';
import { autocannonGenerator, type LoadGenerator, type LoadSpec, wrkGenerator } from './lib/load.ts';
import { parseOptions } from './lib/options.ts';
import { type OtlpSink, startOtlpSink } from './lib/otlp-sink.ts';
import { BenchDatabase, postgresReachable } from './lib/postgres.ts';
import { freePort, type Started, sampleRss, startServer } from './lib/processes.ts';
import {
  aggregate,
  BASELINES,
  type BenchResults,
  type ContenderName,
  IMAGE_FLAGS_CONTENDER,
  type Measurement,
  type Storage,
} from './lib/results.ts';
import { median, round } from './lib/stats.ts';
import { renderSvg } from './lib/svg.ts';
import { formatMarkdownTable, formatTable } from './lib/table.ts';

/**
 * `npm run bench`: the user-service production bundle (logs, metrics, tracing on) against a raw node:http server
 * and a Go net/http server with the same routes, on loopback, servers pinned to core 1 and the load generator to
 * core 0. Contenders are interleaved round robin and each figure is the median over rounds.
 */
const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const NODE = process.execPath;
const SEED_USERS = 100;
/** The container image's NODE_OPTIONS, read from deploy/docker/Dockerfile so the two cannot drift. */
const IMAGE_NODE_OPTIONS = (
  /NODE_OPTIONS="([^"]*)"/.exec(
    await readFile(join(ROOT, 'deploy/docker/Dockerfile'), 'utf8').catch(() => ''),
  )?.[1] ?? ''
)
  .split(/\s+/)
  .filter(Boolean);
const options = parseOptions(process.argv.slice(2));
const notes: string[] = [];

function onPath(binary: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const pinning = onPath('taskset') && cpus().length >= 2;
const SERVER_CPU = pinning ? 1 : undefined;
const LOAD_CPU = pinning ? 0 : undefined;
if (pinning) {
  // The runner (readiness polls, RSS sampling, the OTLP sink, autocannon when used) shares the load generator's core.
  execFileSync('taskset', ['-a', '-pc', '0', String(process.pid)], { stdio: 'ignore' });
} else {
  notes.push('taskset or a second core is missing: servers and load generator are not pinned');
}

const useWrk = options.loadgen === 'wrk' || (options.loadgen === 'auto' && onPath('wrk'));
if (options.loadgen === 'wrk' && !onPath('wrk')) throw new Error('--loadgen wrk but wrk is not on PATH');
const generate: LoadGenerator = useWrk ? wrkGenerator : autocannonGenerator;

const work = await mkdtemp(join(tmpdir(), 'user-service-bench-'));
const started: Started[] = [];
let sink: OtlpSink | undefined;
let database: BenchDatabase | undefined;

async function cleanUp(): Promise<void> {
  await Promise.allSettled(started.map((s) => s.stop()));
  await sink?.close();
  await database?.drop().catch(() => {});
  await rm(work, { recursive: true, force: true });
}
process.once('SIGINT', () => void cleanUp().then(() => process.exit(130)));

async function prepare(): Promise<{ goBinary?: string; postgresUrl?: string }> {
  if (options.build) {
    console.log('building the production bundle (npm run build)...');
    await exec(NODE, ['scripts/build.ts', 'users'], { cwd: ROOT });
  }
  if (!existsSync(join(ROOT, 'dist/users/main.mjs')))
    throw new Error('dist/users/main.mjs is missing: npm run build');
  let goBinary: string | undefined;
  if (onPath('go')) {
    goBinary = join(work, 'go-server');
    await exec('go', ['build', '-o', goBinary, '.'], {
      cwd: join(ROOT, 'bench/go'),
      env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', CGO_ENABLED: '0' },
    });
  } else {
    notes.push('go is not on PATH (apt-get install golang-go): no Go baseline, ratio_vs_go is null');
  }
  let postgresUrl: string | undefined;
  if (options.storages.includes('postgres')) {
    const url = process.env.TEST_DATABASE_URL;
    if (!url)
      notes.push(
        'TEST_DATABASE_URL is not set (source /tmp/pgenv or scripts/servers/postgres.sh): PostgreSQL skipped',
      );
    else if (!(await postgresReachable(url)))
      notes.push(`PostgreSQL at TEST_DATABASE_URL does not answer: skipped`);
    else postgresUrl = url;
  }
  return { ...(goBinary ? { goBinary } : {}), ...(postgresUrl ? { postgresUrl } : {}) };
}

/** Environment for the user-service with everything on: info logs, metrics, every request traced by default. */
function serviceEnv(port: number, databaseUrl: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'production',
    APP_VERSION: 'bench',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'info',
    // Metrics are always on (GET /metrics); tracing is on when an OTLP endpoint is set.
    OTEL_EXPORTER_OTLP_ENDPOINT: sink!.endpoint,
    OTEL_TRACES_SAMPLER_ARG: String(options.sampleRatio),
  };
}

interface Contender {
  contender: ContenderName;
  storage: Storage;
  /** A fresh, empty store for a round: a new PGlite directory, a recreated PostgreSQL database. */
  freshStorage: (round: number) => Promise<string>;
  start: (databaseUrl: string) => Promise<Started>;
}

function contenders(goBinary: string | undefined, postgresUrl: string | undefined): Contender[] {
  const list: Contender[] = [];
  const service = (
    storage: Storage,
    freshStorage: (round: number) => Promise<string>,
    contender: ContenderName = 'user-service',
    nodeFlags: readonly string[] = options.nodeOptions,
  ): Contender => ({
    contender,
    storage,
    freshStorage,
    start: async (databaseUrl) => {
      const port = await freePort();
      return startServer({
        command: NODE,
        args: [...nodeFlags, join(ROOT, 'dist/users/main.mjs')],
        env: serviceEnv(port, databaseUrl),
        cwd: work,
        port,
        ...(SERVER_CPU === undefined ? {} : { cpu: SERVER_CPU }),
      });
    },
  });
  for (const storage of options.storages) {
    if (storage === 'memory') list.push(service('memory', async () => 'memory://'));
    if (storage === 'memory' && options.imageFlags)
      list.push(service('memory', async () => 'memory://', IMAGE_FLAGS_CONTENDER, IMAGE_NODE_OPTIONS));
    if (storage === 'pglite')
      list.push(service('pglite', async (r) => `pglite://${await mkdtemp(join(work, `pglite-${r}-`))}`));
    if (storage === 'postgres' && postgresUrl) {
      database = new BenchDatabase(postgresUrl);
      const db = database;
      list.push(
        service('postgres', async () => {
          await db.recreate();
          return db.url;
        }),
      );
    }
  }
  const baseline = (contender: ContenderName, command: string, args: string[]): Contender => ({
    contender,
    storage: 'memory',
    freshStorage: async () => '',
    start: async () => {
      const port = await freePort();
      return startServer({
        command,
        args,
        env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), GOMAXPROCS: '1' },
        port,
        ...(SERVER_CPU === undefined ? {} : { cpu: SERVER_CPU }),
      });
    },
  });
  list.push(baseline(BASELINES.node, NODE, [join(ROOT, 'bench/node-raw/server.ts')]));
  if (goBinary) list.push(baseline(BASELINES.go, goBinary, []));
  return list;
}

async function seed(url: string, round: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < SEED_USERS; i++) {
    const response = await fetch(`${url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: `Seed User ${i}`, email: `seed${round}-${i}@bench.example` }),
    });
    const body = (await response.json()) as { id?: string };
    if (response.status !== 201 || !body.id) throw new Error(`seeding ${url} failed: ${response.status}`);
    ids.push(body.id);
  }
  return ids;
}

/** Spawn-to-ready of the user-service, interleaved across storages; the first start of each is not counted. */
async function measureStartup(list: Contender[]): Promise<Record<string, number>> {
  const services = list.filter((c) => c.contender !== BASELINES.node && c.contender !== BASELINES.go);
  const samples = new Map<string, number[]>();
  // Storage is made once and the uncounted first start initialises it (PGlite directory, PostgreSQL migrations):
  // the counted samples are restarts, as a pod's are.
  const urls = new Map<Contender, string>();
  for (const c of services) urls.set(c, await c.freshStorage(0));
  for (let run = 0; run <= options.startupRuns; run++) {
    for (const c of services) {
      let server: Started;
      try {
        server = await c.start(urls.get(c)!);
      } catch (error) {
        notes.push(`start-up sample of ${label(c)} failed: ${(error as Error).message.slice(0, 300)}`);
        continue;
      }
      await server.stop();
      const key = c.contender === IMAGE_FLAGS_CONTENDER ? `${c.storage} with image flags` : c.storage;
      if (run > 0) samples.set(key, [...(samples.get(key) ?? []), server.readyMs]);
    }
  }
  const result: Record<string, number> = {};
  for (const [storage, values] of samples) {
    result[storage] = round(median(values), 1);
    console.log(
      `start to ready, ${storage}: median ${result[storage]} ms of ${values.map((v) => Math.round(v)).join(', ')}`,
    );
  }
  return result;
}

async function main(): Promise<void> {
  const { goBinary, postgresUrl } = await prepare();
  sink = await startOtlpSink();
  const list = contenders(goBinary, postgresUrl);
  console.log(
    `contenders: ${list.map(label).join(', ')}; ` +
      `load: ${useWrk ? 'wrk -t1' : 'autocannon'} -c${options.connections}, ${options.warmupS} s warm-up + ${options.durationS} s x ${options.rounds} rounds`,
  );

  const startupMs = options.startupRuns > 0 ? await measureStartup(list) : {};
  const measurements: Measurement[] = [];
  const metricsSeen = new Set<string>();
  for (let r = 1; r <= options.rounds; r++) {
    // Fresh instances and data each round; the starting contender rotates so no one always runs first.
    const offset = (r - 1) % list.length;
    const order = [...list.slice(offset), ...list.slice(0, offset)];
    const running = new Map<Contender, { server: Started; ids: string[] }>();
    for (const c of order) {
      try {
        const server = await c.start(await c.freshStorage(r));
        started.push(server);
        running.set(c, { server, ids: await seed(server.url, r) });
      } catch (error) {
        const why = `round ${r} ${label(c)}: could not start or seed (${(error as Error).message.slice(0, 300)})`;
        console.log(why);
        notes.push(why);
      }
    }
    for (const scenario of options.scenarios) {
      for (const c of order) {
        const entry = running.get(c);
        if (!entry) continue;
        const { server, ids } = entry;
        const spec = (phase: string): LoadSpec => ({ scenario, ids, emailPrefix: `b${r}${phase}` });
        const settings = {
          url: server.url,
          connections: options.connections,
          workDir: work,
          ...(LOAD_CPU === undefined ? {} : { cpu: LOAD_CPU }),
        };
        if (server.child.exitCode !== null || server.child.signalCode !== null) continue;
        const rss = sampleRss(server.pid);
        let result: Awaited<ReturnType<LoadGenerator>>;
        try {
          if (options.warmupS > 0) await generate(spec('w'), { ...settings, durationS: options.warmupS });
          result = await generate(spec('m'), { ...settings, durationS: options.durationS });
        } catch (error) {
          rss.stop();
          const why = `round ${r} ${scenario} ${label(c)}: load run failed (${(error as Error).message.split('\n')[0]}); server stderr: ${server.stderrTail().slice(-300) || 'empty'}`;
          console.log(why);
          notes.push(why);
          continue;
        }
        const peak = rss.stop();
        measurements.push({
          scenario,
          storage: c.storage,
          contender: c.contender,
          round: r,
          ...result,
          rss_mb: peak,
        });
        const failed = result.failed > 0 ? `, ${result.failed} failed of ${result.requests}` : '';
        console.log(
          `round ${r} ${scenario.padEnd(9)} ${label(c).padEnd(21)} ${Math.round(result.req_per_s)} req/s, ` +
            `P50 ${result.p50_ms.toFixed(2)} ms, P99 ${result.p99_ms.toFixed(2)} ms, RSS ${peak.toFixed(1)} MB${failed}`,
        );
        if (result.failed > result.requests * 0.01)
          notes.push(
            `round ${r} ${scenario} ${label(c)}: ${result.failed} of ${result.requests} requests failed`,
          );
      }
    }
    for (const [c, { server }] of running) {
      if (c.contender === 'user-service') metricsSeen.add(await metricsSummary(server.url, c.storage));
      await server.stop();
      started.splice(started.indexOf(server), 1);
    }
  }
  await report(measurements, startupMs, [...metricsSeen], list);
}

function label(c: Contender): string {
  return c.contender.startsWith('user-service') ? `${c.contender}/${c.storage}` : c.contender;
}

async function metricsSummary(url: string, storage: Storage): Promise<string> {
  try {
    const response = await fetch(`${url}/metrics`);
    const text = await response.text();
    if (response.status !== 200) return `${storage}: GET /metrics answered ${response.status}`;
    const series = text.split('\n').filter((l) => l.startsWith('http_requests_total')).length;
    return `${storage}: /metrics served ${series} http_requests_total series`;
  } catch (error) {
    return `${storage}: /metrics unreachable (${(error as Error).message})`;
  }
}

async function report(
  measurements: Measurement[],
  startupMs: Record<string, number>,
  metrics: string[],
  list: Contender[],
): Promise<void> {
  const rows = aggregate(measurements);
  const budgets = evaluateBudgets({ rows, startupMs, connections: options.connections });
  const traces = sink!.stats();
  notes.push(
    traces.exports > 0
      ? `tracing: the OTLP sink received ${traces.exports} exports (${(traces.bytes / 1e6).toFixed(1)} MB), sample ratio ${options.sampleRatio}`
      : 'tracing: the OTLP sink received no spans (tracing not wired or not configured by the keys the benchmark sets)',
    ...metrics.map((m) => `metrics: ${m}`),
  );
  const image = await imageSize();
  const results: BenchResults = {
    machine: await machine(),
    date: new Date().toISOString(),
    scenarios: rows,
    settings: {
      duration_s: options.durationS,
      warmup_s: options.warmupS,
      rounds: options.rounds,
      connections: options.connections,
      load_generator: useWrk ? 'wrk -t1' : 'autocannon',
      pinned: pinning ? { servers: 'core 1', load_generator: 'core 0' } : false,
      user_service: {
        bundle: 'dist/users/main.mjs',
        node_options: options.nodeOptions.join(' '),
        log: 'info, stdout to /dev/null',
        trace_sample_ratio: options.sampleRatio,
      },
      contenders: list.map(label),
    },
    startup_ms: startupMs,
    image_size_mb: image,
    budgets,
    notes,
    runs: measurements,
  };
  console.log(`\n${formatTable(rows)}\n`);
  console.log(
    `start to ready (median): ${
      Object.entries(startupMs)
        .map(([s, ms]) => `${s} ${ms} ms`)
        .join(', ') || 'not measured'
    }`,
  );
  console.log(
    `image size: ${image === null ? 'n/a (no docker or no user-service image; npm run image:size builds one)' : `${image} MB`}`,
  );
  console.log(`\n${formatBudgets(budgets)}\n`);
  for (const note of notes) console.log(`note: ${note}`);
  const outDir = resolve(ROOT, options.outDir);
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(outDir, 'latest.svg'), renderSvg(results, budgets));
  await writeFile(
    join(outDir, 'latest.md'),
    `${formatMarkdownTable(rows)}\n\n${budgets.map((b) => `- ${b.pass ? 'PASS' : 'FAIL'} ${b.budget}: ${b.figure}`).join('\n')}\n`,
  );
  console.log(`wrote ${options.outDir}/latest.{json,svg,md}`);
}

async function machine(): Promise<Record<string, unknown>> {
  const version = async (file: string, args: string[]) =>
    exec(file, args)
      .then(({ stdout, stderr }) => (stdout || stderr).trim().split('\n')[0])
      .catch(() => null);
  const meminfo = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  const memKb = Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? 0);
  return {
    host: hostname(),
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memory_gb: round(memKb / 1024 / 1024, 1),
    kernel: release(),
    node: process.version,
    go: await version('go', ['version']),
    wrk: useWrk ? await version('wrk', ['--version']) : null,
    commit: await version('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
    // The bundle is built from the working tree: uncommitted source changes are part of what was measured.
    uncommitted_src: await exec('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src', 'scripts/build.ts'])
      .then(({ stdout }) => stdout.split('\n').filter(Boolean).length)
      .catch(() => null),
    shared: 'other work runs on the same 2 cores; figures are medians of interleaved rounds',
  };
}

/** Size of a built user-service image, when an engine answers and such an image exists; null otherwise. */
async function imageSize(): Promise<number | null> {
  if (!onPath('docker')) return null;
  try {
    const { stdout } = await exec(
      'docker',
      ['images', '--filter', 'label=org.opencontainers.image.title=users', '--format', '{{.ID}}'],
      { timeout: 10_000 },
    );
    const id = stdout.trim().split('\n')[0];
    if (!id) return null;
    const size = await exec('docker', ['image', 'inspect', '-f', '{{.Size}}', id], { timeout: 10_000 });
    return round(Number(size.stdout.trim()) / 1e6, 1);
  } catch {
    return null;
  }
}

try {
  await main();
} finally {
  await cleanUp();
}
