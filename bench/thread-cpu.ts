import { readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLimitedGroup } from './lib/cgroup.ts';
import { copyOfCompileCache } from './lib/compile-cache.ts';
import { pinRunner, probeEnvironment } from './lib/environment.ts';
import { autocannonGenerator, wrkGenerator } from './lib/load.ts';
import { startOtlpSink } from './lib/otlp-sink.ts';
import { freePort, startServer } from './lib/processes.ts';
import { seedUsers } from './lib/seed.ts';
import { parseSettingSweep, prepareShippedBundle } from './lib/setting-sweep.ts';
import { median, round } from './lib/stats.ts';

/**
 * Where a request's CPU goes by thread: the production bundle (memory://, the settings a pod ships with) inside
 * the Deployment's CPU and memory limits (or without them, --unconstrained), started once per value of KEY,
 * alternating. Each start takes `--warm` seconds of saturating GET /users/{id} (0: measure from ready, when V8
 * still compiles the request path), then a measured saturating run; the CPU each thread used over it
 * (/proc/PID/task/TID/schedstat, summed by thread name: MainThread, V8Worker, libuv's threads...) is divided by
 * the requests served. In a pod every thread shares the one CPU quota, so V8's background compilation and GC
 * take from the requests.
 *
 *   node bench/thread-cpu.ts [--setting OTEL_TRACES_SAMPLER_ARG=0,0.01] [--env KEY=VALUE ...] [--sink]
 *                            [--starts 2] [--warm 0] [--seconds 10] [--unconstrained]
 *
 * Values of --setting NODE_OPTIONS are added to the pod's NODE_OPTIONS (`-` adds nothing): `--setting
 * NODE_OPTIONS=-,--import=$PWD/bench/preload/client-requests.ts` compares a server with and without a preload.
 *
 * `--env DATABASE_URL=postgres://...` runs it on that database instead of `memory://` (migrated at the first
 * start; each start seeds 20 more users): `--setting DB_PREPARED_STATEMENTS=false,true` compares its reads with
 * and without named prepared statements.
 *
 * `--setting ENTRY=dist/users/main.mjs,bench/fastify-bare/server.ts,bench/node-raw/server.ts` runs a different
 * server file per variant (paths from the repository root), with the same environment: the service against bare
 * Fastify and raw node:http.
 *
 * --sink starts an in-process OTLP sink and points OTEL_EXPORTER_OTLP_ENDPOINT at it (tracing on). As values of
 * --setting OTEL_EXPORTER_OTLP_ENDPOINT, `off` turns tracing off and `sink` means that sink: `--setting
 * OTEL_EXPORTER_OTLP_ENDPOINT=off,sink` compares tracing off and on. Needs root for the cgroup (or a Docker
 * engine, see bench/lib/cgroup.ts) and npm run build first.
 */
const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    setting: { type: 'string', default: 'OTEL_TRACES_SAMPLER_ARG=0,0.01' },
    env: { type: 'string', multiple: true, default: [] },
    sink: { type: 'boolean', default: false },
    starts: { type: 'string', default: '2' },
    warm: { type: 'string', default: '0' },
    seconds: { type: 'string', default: '10' },
    unconstrained: { type: 'boolean', default: false },
  },
});
const { key, variants, extraEnv } = parseSettingSweep(values.setting, values.env);

/** CPU nanoseconds by thread name of process `pid`, from each thread's schedstat. */
async function cpuByThread(pid: number): Promise<Map<string, number>> {
  const byName = new Map<string, number>();
  for (const task of await readdir(`/proc/${pid}/task`).catch(() => [])) {
    const [comm, schedstat] = await Promise.all([
      readFile(`/proc/${pid}/task/${task}/comm`, 'utf8').catch(() => '?'),
      readFile(`/proc/${pid}/task/${task}/schedstat`, 'utf8').catch(() => '0'),
    ]);
    const name = comm.trim();
    byName.set(name, (byName.get(name) ?? 0) + Number(schedstat.split(' ')[0]));
  }
  return byName;
}

/** The samples kept under `name`, a new list at the first. */
function samplesOf(byName: Map<string, number[]>, name: string): number[] {
  let samples = byName.get(name);
  if (samples === undefined) {
    samples = [];
    byName.set(name, samples);
  }
  return samples;
}

const environment = probeEnvironment();
pinRunner(environment);
const generate = environment.wrk ? wrkGenerator : autocannonGenerator;
const { pod, shipped, work, cache } = await prepareShippedBundle(ROOT, 'thread-cpu');
const ENDPOINT = 'OTEL_EXPORTER_OTLP_ENDPOINT';
/** Not a variable: as the key of --setting, the server file each start runs instead of the bundle. */
const ENTRY = 'ENTRY';
const SERVICE_ENTRY = 'dist/users/main.mjs';
const sink =
  values.sink || (key === ENDPOINT && variants.includes('sink')) ? await startOtlpSink() : undefined;
/** µs per request by thread name, per variant, one entry per start. */
const figures = new Map<string, Map<string, number[]>>(variants.map((v) => [v, new Map()]));
/** Requests a second, per variant, one entry per start. */
const rates = new Map<string, number[]>(variants.map((v) => [v, []]));
const width = Math.max(...variants.map((v) => v.length));
const where = values.unconstrained ? 'unconstrained' : `under ${pod.cpus} CPU / ${pod.memoryBytes} bytes`;
console.log(`${where}; warm ${values.warm} s, measured ${values.seconds} s; ${key}=${variants.join(',')}`);

try {
  for (let start = 0; start < Number(values.starts); start++) {
    for (const [index, value] of variants.entries()) {
      const group = values.unconstrained
        ? undefined
        : createLimitedGroup({
            name: `user-service-thread-cpu-${process.pid}-${index}`,
            limits: { cpus: pod.cpus, memoryBytes: pod.memoryBytes },
            dockerMounts: [ROOT, work],
          });
      const port = await freePort();
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOST: '127.0.0.1',
        PORT: String(port),
        ...shipped,
        ...(sink ? { [ENDPOINT]: sink.endpoint } : {}),
        DATABASE_URL: 'memory://',
        ...extraEnv,
        [key]: value,
        NODE_OPTIONS: [...pod.nodeOptions, ...(key === 'NODE_OPTIONS' && value !== '-' ? [value] : [])].join(
          ' ',
        ),
        ...(typeof cache === 'string' ? { NODE_COMPILE_CACHE: await copyOfCompileCache(cache, work) } : {}),
      };
      if (env[ENDPOINT] === 'off') delete env[ENDPOINT];
      if (env[ENDPOINT] === 'sink' && sink) env[ENDPOINT] = sink.endpoint;
      const server = await startServer({
        command: process.execPath,
        args: [join(ROOT, key === ENTRY ? value : SERVICE_ENTRY)],
        env,
        cwd: work,
        port,
        ...(group ? { wrap: group.wrap } : {}),
        ...(environment.serverCpu === undefined ? {} : { cpu: environment.serverCpu }),
      });
      try {
        const ids = await seedUsers(server.url, 20, `threads-${start}-${index}`);
        const load = (durationS: number) =>
          generate(
            { scenario: 'get-by-id', ids, emailPrefix: 'threads-' },
            {
              url: server.url,
              connections: 50,
              durationS,
              workDir: work,
              ...(environment.loadCpu === undefined ? {} : { cpu: environment.loadCpu }),
            },
          );
        if (Number(values.warm) > 0) await load(Number(values.warm));
        const before = await cpuByThread(server.pid);
        const result = await load(Number(values.seconds));
        const after = await cpuByThread(server.pid);
        const perThread = figures.get(value)!;
        const parts: string[] = [];
        let total = 0;
        for (const [name, ns] of after) {
          const usPerRequest = (ns - (before.get(name) ?? 0)) / 1000 / Math.max(1, result.requests);
          if (usPerRequest < 0.01) continue;
          total += usPerRequest;
          samplesOf(perThread, name).push(usPerRequest);
          parts.push(`${name} ${round(usPerRequest, 2)}`);
        }
        samplesOf(perThread, '(all)').push(total);
        rates.get(value)?.push(result.req_per_s);
        console.log(
          `start ${start + 1}, ${key}=${value.padEnd(width)}: ${Math.round(result.req_per_s)} req/s; ` +
            `µs of CPU per request: ${parts.join(', ')}; all ${round(total, 2)}`,
        );
      } finally {
        await server.stop();
        await group?.remove();
      }
    }
  }
  for (const value of variants) {
    const perThread = figures.get(value)!;
    const medians = [...perThread].map(([name, samples]) => `${name} ${round(median(samples), 2)}`);
    console.log(
      `${key}=${value.padEnd(width)}: medians, ${Math.round(median(rates.get(value) ?? []))} req/s, ` +
        `µs of CPU per request: ${medians.join(', ')}`,
    );
  }
} finally {
  await rm(work, { recursive: true, force: true });
  await sink?.close();
}
