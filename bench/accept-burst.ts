import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLimitedGroup } from './lib/cgroup.ts';
import { pinRunner, probeEnvironment } from './lib/environment.ts';
import { autocannonGenerator, wrkGenerator } from './lib/load.ts';
import { readPodLimits } from './lib/pod-limits.ts';
import { freePort, startServer } from './lib/processes.ts';
import { seedUsers } from './lib/seed.ts';
import { readServiceDefaults, shippedServiceEnv } from './lib/service-defaults.ts';
import { median, round } from './lib/stats.ts';

/**
 * What ACCEPT_LISTENERS does for a new pod's first traffic: the production bundle (memory://, the settings a pod
 * ships with: NODE_OPTIONS, WARM_UP_REQUESTS, DOCS_ENABLED) inside the Deployment's CPU and memory limits, started with 1 listening socket and with N,
 * alternating. After ready, each start takes BURSTS saturating runs of GET /users/{id}, each opening its 50
 * connections at once (a new client, a sidecar filling its pool). Prints req/s and P99 per run and the medians.
 *
 *   node bench/accept-burst.ts [--listeners 16] [--starts 3] [--bursts 2] [--seconds 5]
 *
 * Needs root for the cgroup (or a Docker engine, see bench/lib/cgroup.ts) and npm run build first.
 */
const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    listeners: { type: 'string', default: '16' },
    starts: { type: 'string', default: '3' },
    bursts: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '5' },
  },
});
const variants = [1, Number(values.listeners)];
const environment = probeEnvironment();
pinRunner(environment);
const generate = environment.wrk ? wrkGenerator : autocannonGenerator;
const pod = await readPodLimits(ROOT);
const shipped = shippedServiceEnv(readServiceDefaults(ROOT));
const work = await mkdtemp(join(tmpdir(), 'accept-burst-'));
const figures = new Map<number, { rps: number[]; p99: number[] }>(
  variants.map((v) => [v, { rps: [], p99: [] }]),
);

try {
  for (let start = 0; start < Number(values.starts); start++) {
    for (const listeners of variants) {
      const group = createLimitedGroup({
        name: `user-service-accept-burst-${process.pid}-${listeners}`,
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
          DATABASE_URL: 'memory://',
          ACCEPT_LISTENERS: String(listeners),
          NODE_OPTIONS: pod.nodeOptions.join(' '),
        },
        cwd: work,
        port,
        wrap: group.wrap,
        ...(environment.serverCpu === undefined ? {} : { cpu: environment.serverCpu }),
      });
      try {
        const ids = await seedUsers(server.url, 20, `burst-${start}-${listeners}`);
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
          figures.get(listeners)!.rps.push(result.req_per_s);
          figures.get(listeners)!.p99.push(result.p99_ms);
          console.log(
            `start ${start + 1}, ${String(listeners).padStart(2)} listening socket(s), burst ${burst + 1}: ` +
              `${Math.round(result.req_per_s)} req/s, P99 ${round(result.p99_ms, 1)} ms`,
          );
        }
      } finally {
        await server.stop();
        await group.remove();
      }
    }
  }
  for (const listeners of variants) {
    const { rps, p99 } = figures.get(listeners)!;
    console.log(
      `${String(listeners).padStart(2)} listening socket(s): median ${Math.round(median(rps))} req/s, ` +
        `P99 median ${round(median(p99), 1)} ms (of ${p99.map((v) => round(v, 0)).join(', ')})`,
    );
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
