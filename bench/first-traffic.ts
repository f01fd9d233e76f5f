import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLimitedGroup } from './lib/cgroup.ts';
import { copyOfCompileCache } from './lib/compile-cache.ts';
import { pinRunner, probeEnvironment } from './lib/environment.ts';
import { autocannonGenerator, wrkGenerator } from './lib/load.ts';
import { freePort, startServer } from './lib/processes.ts';
import { seedUsers } from './lib/seed.ts';
import { parseSettingSweep, prepareShippedBundle } from './lib/setting-sweep.ts';
import { median, round } from './lib/stats.ts';

/**
 * What one setting does for a new pod's start and first traffic: the production bundle (memory://, the settings a
 * pod ships with: NODE_OPTIONS, WARM_UP_REQUESTS, DOCS_ENABLED) inside the Deployment's CPU and memory limits,
 * started once per value of KEY, alternating, each start from a copy of a compile cache warmed as the image's is.
 * After ready, each start takes BURSTS saturating runs of GET /users/{id}, each opening its 50 connections at once (a new client, a sidecar filling its pool). Prints
 * start-to-ready, req/s and P99 per run and the medians per value.
 *
 *   node bench/first-traffic.ts [--setting ACCEPT_LISTENERS=1,16] [--env KEY=VALUE ...] [--starts 3] [--bursts 2]
 *                               [--seconds 5]
 *
 * --env adds a setting every start gets (e.g. OTEL_EXPORTER_OTLP_ENDPOINT to trace to a collector).
 *
 * Needs root for the cgroup (or a Docker engine, see bench/lib/cgroup.ts) and npm run build first.
 */
const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    setting: { type: 'string', default: 'ACCEPT_LISTENERS=1,16' },
    env: { type: 'string', multiple: true, default: [] },
    starts: { type: 'string', default: '3' },
    bursts: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '5' },
  },
});
const { key, variants, extraEnv } = parseSettingSweep(values.setting, values.env);
const environment = probeEnvironment();
pinRunner(environment);
const generate = environment.wrk ? wrkGenerator : autocannonGenerator;
const { pod, shipped, work, cache } = await prepareShippedBundle(ROOT, 'first-traffic');
const figures = new Map<string, { readyMs: number[]; rps: number[]; p99: number[] }>(
  variants.map((v) => [v, { readyMs: [], rps: [], p99: [] }]),
);
const width = Math.max(...variants.map((v) => v.length));

try {
  for (let start = 0; start < Number(values.starts); start++) {
    for (const [index, value] of variants.entries()) {
      const group = createLimitedGroup({
        name: `user-service-first-traffic-${process.pid}-${index}`,
        limits: { cpus: pod.cpus, memoryBytes: pod.memoryBytes },
        dockerMounts: [ROOT, work],
      });
      const port = await freePort();
      const server = await startServer({
        command: process.execPath,
        args: [join(ROOT, 'dist/users/main.mjs')],
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOST: '127.0.0.1',
          PORT: String(port),
          ...shipped,
          ...extraEnv,
          DATABASE_URL: 'memory://',
          [key]: value,
          NODE_OPTIONS: pod.nodeOptions.join(' '),
          ...(typeof cache === 'string' ? { NODE_COMPILE_CACHE: await copyOfCompileCache(cache, work) } : {}),
        },
        cwd: work,
        port,
        wrap: group.wrap,
        ...(environment.serverCpu === undefined ? {} : { cpu: environment.serverCpu }),
      });
      const of = figures.get(value)!;
      of.readyMs.push(server.readyMs);
      console.log(
        `start ${start + 1}, ${key}=${value.padEnd(width)}: ready in ${Math.round(server.readyMs)} ms`,
      );
      try {
        const ids = await seedUsers(server.url, 20, `burst-${start}-${index}`);
        for (let burst = 0; burst < Number(values.bursts); burst++) {
          const result = await generate(
            { scenario: 'get-by-id', ids, emailPrefix: 'burst-' },
            {
              url: server.url,
              connections: 50,
              durationS: Number(values.seconds),
              workDir: work,
              ...(environment.loadCpu === undefined ? {} : { cpu: environment.loadCpu }),
            },
          );
          of.rps.push(result.req_per_s);
          of.p99.push(result.p99_ms);
          console.log(
            `start ${start + 1}, ${key}=${value.padEnd(width)}, burst ${burst + 1}: ` +
              `${Math.round(result.req_per_s)} req/s, P99 ${round(result.p99_ms, 1)} ms`,
          );
        }
      } finally {
        await server.stop();
        await group.remove();
      }
    }
  }
  for (const value of variants) {
    const { readyMs, rps, p99 } = figures.get(value)!;
    console.log(
      `${key}=${value.padEnd(width)}: ready median ${Math.round(median(readyMs))} ms, ` +
        `median ${Math.round(median(rps))} req/s, ` +
        `P99 median ${round(median(p99), 1)} ms (of ${p99.map((v) => round(v, 0)).join(', ')})`,
    );
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
