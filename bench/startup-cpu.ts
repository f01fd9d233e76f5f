import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLimitedGroup } from './lib/cgroup.ts';
import { startOtlpSink } from './lib/otlp-sink.ts';
import { readPodLimits } from './lib/pod-limits.ts';
import { freePort } from './lib/processes.ts';
import { awaitReadyz } from './lib/readiness.ts';
import { median } from './lib/stats.ts';

/**
 * Start-up of a service bundle as the pod runs it: NODE_ENV=production, `memory://`, docs off, tracing on (OTLP to
 * an in-process sink, ratio 0.1), the Deployment's NODE_OPTIONS and a compile cache warmed by one uncounted start,
 * as the image's is. Each run is spawn to the first 200 from /readyz: wall time, and the CPU time the process has
 * used by then (all its threads, from /proc/<pid>/task/<tid>/schedstat). Entries alternate run by run, so the
 * machine's other load falls on each alike.
 *
 *   node bench/startup-cpu.ts [--runs 9] [--pod] [--database URL] [--profile DIR] [ENTRY ...]
 *
 * ENTRY defaults to dist/users/main.mjs; --database replaces `memory://` (a PostgreSQL URL: migrations are checked
 * at each start, as MIGRATE_ON_START does in the pod).
 *
 * --pod runs each start inside the Deployment's CPU and memory limits (bench/lib/cgroup.ts). --profile writes a
 * V8 CPU profile per run and prints the CPU time by package: a module's load (its top-level code) or, outside
 * any module's load, the call path. Profiling slows the process, so those figures are shares, not timings.
 */
const ROOT = resolve(import.meta.dirname, '..');

interface Sample {
  wallMs: number;
  cpuMs: number;
}

async function cpuMsOf(pid: number): Promise<number> {
  let ns = 0;
  for (const task of await readdir(`/proc/${pid}/task`)) {
    const stat = await readFile(`/proc/${pid}/task/${task}/schedstat`, 'utf8').catch(() => '0');
    ns += Number(stat.split(' ')[0]);
  }
  return ns / 1e6;
}

async function startOnce(
  entry: string,
  options: {
    cache: string;
    endpoint: string;
    nodeOptions: string;
    pod: boolean;
    database: string;
    profile?: string;
  },
): Promise<Sample> {
  const port = await freePort();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    NODE_ENV: 'production',
    DATABASE_URL: options.database,
    DOCS_ENABLED: 'false',
    HOST: '127.0.0.1',
    PORT: String(port),
    OTEL_EXPORTER_OTLP_ENDPOINT: options.endpoint,
    OTEL_TRACES_SAMPLER_ARG: '0.01',
    NODE_OPTIONS: options.nodeOptions,
    NODE_COMPILE_CACHE: options.cache,
  };
  const args = options.profile ? ['--cpu-prof', '--cpu-prof-dir', options.profile, entry] : [entry];
  const group = options.pod
    ? createLimitedGroup({ name: `startup-cpu-${process.pid}-${port}`, limits: await readPodLimits(ROOT) })
    : undefined;
  const command = group ? group.wrap(process.execPath, args) : { command: process.execPath, args };
  const startedAt = performance.now();
  const child = spawn(command.command, command.args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  try {
    const readiness = await awaitReadyz(`http://127.0.0.1:${port}`, {
      startedAt,
      exited: () => child.exitCode !== null,
      intervalMs: 2,
    });
    if (readiness) return { wallMs: readiness.readyMs, cpuMs: await cpuMsOf(child.pid ?? 0) };
    throw new Error(`${entry} was not ready within 60 s (exit ${child.exitCode})`);
  } finally {
    child.kill('SIGTERM');
    await exited;
    await group?.remove();
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string };
  children?: number[];
}

/** CPU time by the innermost module whose load is on the stack (esbuild names a module's wrapper by its path). */
async function byModule(directory: string): Promise<Map<string, number>> {
  const totals = new Map<string, number>();
  const files = (await readdir(directory)).filter((file) => file.endsWith('.cpuprofile'));
  for (const file of files) {
    const profile = JSON.parse(await readFile(join(directory, file), 'utf8')) as {
      nodes: ProfileNode[];
      samples: number[];
      timeDeltas: number[];
    };
    const parent = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    profile.samples.forEach((sample, i) => {
      const leaf = byId.get(sample)?.callFrame.functionName ?? '';
      if (leaf === '(idle)') return;
      const path: string[] = [];
      let key = leaf === '(garbage collector)' ? '(garbage collector)' : undefined;
      for (let id: number | undefined = sample; key === undefined && id !== undefined; id = parent.get(id)) {
        const name = byId.get(id)?.callFrame.functionName ?? '';
        if (/node_modules\/|^src\/|\.(c?js|ts)$/.test(name)) {
          key = `load ${name.match(/node_modules\/((@[^/]+\/)?[^/]+)/)?.[1] ?? name.replace(/^(\.\.\/)+/, '')}`;
        } else if (name && !name.startsWith('(')) path.unshift(name);
      }
      key ??= path.slice(-4).join(' > ') || leaf;
      totals.set(key, (totals.get(key) ?? 0) + (profile.timeDeltas[i + 1] ?? 0) / 1000 / files.length);
    });
  }
  return totals;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      runs: { type: 'string', default: '9' },
      pod: { type: 'boolean', default: false },
      database: { type: 'string', default: 'memory://' },
      profile: { type: 'string' },
    },
    allowPositionals: true,
  });
  const entries = (positionals.length > 0 ? positionals : ['dist/users/main.mjs']).map((entry) =>
    resolve(entry),
  );
  const runs = Number(values.runs);
  const nodeOptions = (await readPodLimits(ROOT)).nodeOptions.join(' ');
  const sink = await startOtlpSink();
  const work = await mkdtemp(join(tmpdir(), 'startup-cpu-'));
  const samples = new Map<string, Sample[]>(entries.map((entry) => [entry, []]));
  try {
    const caches = new Map<string, string>();
    for (const [i, entry] of entries.entries()) {
      caches.set(entry, join(work, `cache-${i}`));
      // Uncounted: writes the compile cache, as the image's build does.
      await startOnce(entry, {
        cache: join(work, `cache-${i}`),
        endpoint: sink.endpoint,
        nodeOptions,
        pod: false,
        database: values.database,
      });
    }
    for (let run = 0; run < runs; run++) {
      for (const [i, entry] of entries.entries()) {
        const profile = values.profile ? resolve(values.profile, String(i)) : undefined;
        const sample = await startOnce(entry, {
          cache: caches.get(entry) ?? '',
          endpoint: sink.endpoint,
          nodeOptions,
          pod: values.pod,
          database: values.database,
          ...(profile ? { profile } : {}),
        });
        samples.get(entry)?.push(sample);
      }
    }
  } finally {
    await sink.close();
    await rm(work, { recursive: true, force: true });
  }
  const mode = `${values.pod ? 'under the pod limits' : 'unconstrained'}, ${values.database.split(':')[0]}`;
  for (const [i, entry] of entries.entries()) {
    const taken = samples.get(entry) ?? [];
    const wall = median(taken.map((s) => s.wallMs));
    const cpu = median(taken.map((s) => s.cpuMs));
    console.log(
      `${entry} (${mode}, median of ${taken.length}): wall ${Math.round(wall)} ms, CPU ${Math.round(cpu)} ms to the first /readyz 200`,
    );
    if (values.profile) {
      const totals = [...(await byModule(resolve(values.profile, String(i))))].sort((a, b) => b[1] - a[1]);
      for (const [key, ms] of totals.slice(0, 30)) console.log(`  ${ms.toFixed(1).padStart(7)} ms  ${key}`);
    }
  }
}

await main();
