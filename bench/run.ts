import { join, resolve } from 'node:path';
import { formatBudgets } from './lib/budgets.ts';
import { limitMechanism } from './lib/cgroup.ts';
import { warmCompileCache } from './lib/compile-cache.ts';
import { type ContenderContext, podContenders, unconstrainedContenders } from './lib/contenders.ts';
import { formatCostsMarkdown, measureCosts } from './lib/costs.ts';
import { type BenchEnvironment, pinRunner, probeEnvironment } from './lib/environment.ts';
import { autocannonGenerator, type LoadGenerator, wrkGenerator } from './lib/load.ts';
import { describeMachine, imageSizeMb } from './lib/machine.ts';
import { type BenchOptions, parseOptions, USAGE } from './lib/options.ts';
import { readPodLimits } from './lib/pod-limits.ts';
import { runPodMode } from './lib/pod-mode.ts';
import { BenchDatabase } from './lib/postgres.ts';
import { prepare } from './lib/prepare.ts';
import { type FullResults, writeResultFiles } from './lib/report-files.ts';
import { aggregate } from './lib/results.ts';
import { runSaturation } from './lib/saturation.ts';
import { readServiceDefaults, shippedServiceEnv } from './lib/service-defaults.ts';
import { openSession, type Session } from './lib/session.ts';
import { measureFreshClone, measureStartup } from './lib/startup.ts';
import { formatConstantRateTable, formatPodTable, formatTable } from './lib/table.ts';

/**
 * `npm run bench`: options -> plan -> contenders -> results -> report. The user-service production bundle (logs,
 * metrics, tracing at its default sampling) against raw node:http, Go, a hand-assembled Fastify + prom-client +
 * OpenTelemetry server and raw `pg`, on loopback with servers pinned to core 1 and load to core 0: unconstrained,
 * and under the Deployment's own CPU/memory limits (pod mode). See bench/README.md.
 */
const ROOT = resolve(import.meta.dirname, '..');

/** The npm command line that repeats a run, arguments quoted where a shell needs it. */
function command(argv: readonly string[]): string {
  const quoted = argv.map((a) => (/^[\w.,:=/@+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`));
  return ['npm run bench', ...(argv.length > 0 ? ['--', ...quoted] : [])].join(' ');
}

function loadGenerator(options: BenchOptions, environment: BenchEnvironment): LoadGenerator {
  if (options.loadgen === 'wrk' && !environment.wrk) throw new Error('--loadgen wrk but wrk is not on PATH');
  return options.loadgen === 'wrk' || (options.loadgen === 'auto' && environment.wrk)
    ? wrkGenerator
    : autocannonGenerator;
}

async function run(options: BenchOptions, argv: readonly string[], session: Session): Promise<void> {
  const environment = probeEnvironment();
  pinRunner(environment);
  const generate = loadGenerator(options, environment);
  const log = (line: string) => console.log(line);
  const notes: string[] = environment.pinning
    ? []
    : ['taskset or a second core is missing: servers and load generator are not pinned'];
  const defaults = readServiceDefaults(ROOT);
  const sampleRatio = options.sampleRatio ?? defaults.sampleRatio;
  const wantsPostgres = options.storages.includes('postgres');
  const prepared = await prepare(ROOT, session.work, environment, {
    build: options.build,
    postgres: wantsPostgres,
  });
  notes.push(...prepared.notes);
  const databases = prepared.postgresUrl
    ? {
        service: new BenchDatabase(prepared.postgresUrl, `user_service_bench_${process.pid}`),
        raw: new BenchDatabase(prepared.postgresUrl, `user_service_bench_${process.pid}_pg_raw`),
      }
    : undefined;
  if (databases) {
    session.adoptDatabase(databases.service);
    session.adoptDatabase(databases.raw);
  }
  const context: ContenderContext = {
    root: ROOT,
    work: session.work,
    node: process.execPath,
    environment,
    otlpEndpoint: session.sink.endpoint,
    defaults,
    sampleRatio,
    ...(prepared.goBinary ? { goBinary: prepared.goBinary } : {}),
    ...(databases ? { databases } : {}),
  };
  const limits = await readPodLimits(ROOT);
  // The image ships a compile cache its build warmed (deploy/docker/Dockerfile); the bundle starts from one here
  // too, warmed once per set of Node flags it runs with.
  const compileCaches = new Map<string, string>();
  context.compileCaches = compileCaches;
  const warmCompileCacheFor = async (nodeOptions: readonly string[]) => {
    const key = nodeOptions.join(' ');
    if (compileCaches.has(key)) return;
    const cache = await warmCompileCache({
      root: ROOT,
      entry: join(ROOT, 'dist/users/main.mjs'),
      work: session.work,
      node: context.node,
      nodeOptions,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        ...shippedServiceEnv(context.defaults),
      },
    });
    if (typeof cache === 'string') compileCaches.set(key, cache);
    else notes.push(`no compile cache for Node flags "${key}" (its warm-up failed: ${cache.failed})`);
  };
  const results: FullResults = {
    machine: await describeMachine(ROOT, environment.wrk),
    date: new Date().toISOString(),
    command: command(argv),
    scenarios: [],
  };

  if (options.mode !== 'pod') {
    results.costs = await measureCosts({
      root: ROOT,
      node: process.execPath,
      otlpEndpoint: session.sink.endpoint,
      serverCpu: environment.serverCpu,
      log,
    });
  }

  if (options.mode === 'full' || options.mode === 'unconstrained') {
    await warmCompileCacheFor(options.nodeOptions);
    if (options.imageFlags) await warmCompileCacheFor(limits.nodeOptions);
    const list = unconstrainedContenders(context, {
      storages: options.storages,
      nodeOptions: options.nodeOptions,
      ...(options.imageFlags ? { imageFlags: limits.nodeOptions } : {}),
    });
    log(
      `unconstrained: ${list.map((c) => c.label).join(', ')}; -c${options.connections}, ` +
        `${options.warmupS} s warm-up (${options.firstWarmupS} s for a fresh process's first scenario) + ` +
        `${options.durationS} s x ${options.rounds} rounds` +
        (options.constantRateS > 0 ? `, then ${options.constantRateS} s at half rate` : ''),
    );
    const services = list.filter(
      (c) => c.contender === 'user-service' || c.contender === 'user-service+image-flags',
    );
    const startup =
      options.startupRuns > 0 ? await measureStartup(services, options.startupRuns, log) : undefined;
    const freshClone = await measureFreshClone(ROOT, session.work, options.quick ? 1 : 2, log);
    const outcome = await runSaturation({
      contenders: list,
      scenarios: options.scenarios,
      rounds: options.rounds,
      warmupS: options.warmupS,
      firstWarmupS: options.firstWarmupS,
      durationS: options.durationS,
      connections: options.connections,
      constantRateS: options.constantRateS,
      generate,
      workDir: session.work,
      loadCpu: environment.loadCpu,
      track: session.track,
      log,
    });
    notes.push(...(startup?.notes ?? []), ...outcome.notes, ...outcome.metrics.map((m) => `metrics: ${m}`));
    if (typeof freshClone === 'string') notes.push(freshClone);
    Object.assign(results, {
      scenarios: aggregate(outcome.measurements),
      constant_rate: outcome.constantRate,
      startup_ms: startup?.startupMs ?? {},
      fresh_clone_start_ms: typeof freshClone === 'string' ? null : freshClone.afterInstallMs,
      fresh_clone_uncached_start_ms: typeof freshClone === 'string' ? null : freshClone.uncachedMs,
      runs: outcome.measurements,
    });
  }

  if (options.mode === 'full' || options.mode === 'pod') {
    const list = podContenders(context).filter((c) => options.scenarios.includes(c.scenarios[0]!));
    log(
      `pod mode (${limitMechanism()}): ${limits.source}; ${list.map((c) => c.label).join(', ')}; ` +
        `cold ${options.podColdS} s, warm 5 s light + ${options.podWarmS} s, soak ${options.soakS} s`,
    );
    await warmCompileCacheFor(limits.nodeOptions);
    const outcome = await runPodMode({
      contenders: list,
      soakContender: list.find((c) => c.contender === 'user-service' && c.storage === 'memory'),
      limits,
      coldS: options.podColdS,
      warmS: options.podWarmS,
      soakS: options.soakS,
      connections: options.connections,
      generate,
      workDir: session.work,
      loadCpu: environment.loadCpu,
      ...(process.env.BENCH_DOCKER_IMAGE ? { dockerImage: process.env.BENCH_DOCKER_IMAGE } : {}),
      dockerMounts: [ROOT, session.work],
      track: session.track,
      onClose: session.onClose,
      log,
    });
    notes.push(...outcome.notes);
    results.pod = {
      limits: `${limits.cpus} CPU, ${Math.round(limits.memoryBytes / 1024 / 1024)} MiB, NODE_OPTIONS ${limits.nodeOptions.join(' ') || 'none'} (${limits.source})`,
      mechanism: limitMechanism(),
      command: command(['--pod', ...argv.filter((a) => a !== '--pod')]),
      soak_target_s: 300,
      rows: outcome.rows,
      pairs: outcome.pairs,
      soak: outcome.soak,
    };
  }

  const traces = session.sink.stats();
  notes.push(
    traces.exports > 0
      ? `tracing: the OTLP sink received ${traces.exports} exports (${(traces.bytes / 1e6).toFixed(1)} MB); user-service sampled at ${sampleRatio}`
      : 'tracing: the OTLP sink received no spans (tracing not wired or not configured by the keys the benchmark sets)',
  );
  Object.assign(results, {
    settings: {
      mode: options.mode,
      quick: options.quick,
      duration_s: options.durationS,
      warmup_s: options.warmupS,
      first_warmup_s: options.firstWarmupS,
      rounds: options.rounds,
      connections: options.connections,
      constant_rate_s: options.constantRateS,
      pod_cold_s: options.podColdS,
      pod_warm_s: options.podWarmS,
      soak_s: options.soakS,
      load_generator: generate === wrkGenerator ? 'wrk -t1' : 'autocannon',
      constant_rate_generator: 'bench/lib/open-loop.ts (one process on the load core)',
      pinned: environment.pinning ? { servers: 'core 1', load_generator: 'core 0' } : false,
      user_service: {
        bundle: 'dist/users/main.mjs',
        node_options: options.nodeOptions.join(' '),
        log: 'info, stdout to /dev/null',
        trace_sample_ratio: sampleRatio,
        service_defaults: defaults.observability,
        db_pool_max: defaults.poolMax,
      },
    },
    image_size_mb: await imageSizeMb(environment.docker),
    notes,
  });
  if (options.outDir === undefined) {
    console.log(`\nwhere a request's CPU goes:\n${formatCostsMarkdown(results.costs ?? [], undefined)}`);
    return;
  }
  await report(results, resolve(ROOT, options.outDir), options.outDir);
}

function report(results: FullResults, outDir: string, shown: string): Promise<void> {
  // The committed results refresh the README's performance block; a run written elsewhere leaves it alone.
  const readme = outDir === resolve(ROOT, 'bench/results') ? resolve(ROOT, 'README.md') : undefined;
  return writeResultFiles(outDir, results, readme).then((budgets) => {
    if (results.pod?.rows.length) console.log(`\npod mode:\n${formatPodTable(results.pod.rows)}`);
    if (results.costs?.length)
      console.log(`\nwhere a request's CPU goes:\n${formatCostsMarkdown(results.costs, undefined)}`);
    if (results.scenarios.length) console.log(`\nunconstrained:\n${formatTable(results.scenarios)}`);
    if (results.constant_rate?.length)
      console.log(`\nconstant rate:\n${formatConstantRateTable(results.constant_rate)}`);
    console.log(`\n${formatBudgets(budgets)}\n`);
    for (const note of results.notes ?? []) console.log(`note: ${note}`);
    console.log(`wrote ${shown}/latest.{json,svg,md}`);
  });
}

export async function main(argv: readonly string[]): Promise<number> {
  const options = parseOptions(argv);
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const session = await openSession();
  try {
    await run(options, argv, session);
    return 0;
  } finally {
    await session.close();
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
