import { createLimitedGroup, type GroupStats, type Limits } from './cgroup.ts';
import type { Contender } from './contenders.ts';
import type { LoadGenerator, LoadResult, LoadSpec } from './load.ts';
import { openLoopProcess } from './open-loop.ts';
import type { PodLimits } from './pod-limits.ts';
import type { Started } from './processes.ts';
import {
  BASELINES,
  type PodPair,
  type PodRow,
  type RunFigures,
  type SoakRow,
  TRACING_ALL_CONTENDER,
  TRACING_OFF_CONTENDER,
} from './results.ts';
import { seedUsers } from './seed.ts';
import { median, ratio, round } from './stats.ts';

export interface PodPlan {
  contenders: readonly Contender[];
  /** The contender soaked at saturation (the service at its production defaults). */
  soakContender: Contender | undefined;
  limits: PodLimits;
  coldS: number;
  warmS: number;
  soakS: number;
  connections: number;
  generate: LoadGenerator;
  workDir: string;
  loadCpu: number | undefined;
  dockerImage?: string;
  dockerMounts: readonly string[];
  track: (server: Started) => () => void;
  /** Registers the group's removal for an interrupted run. */
  onClose: (cleanup: () => Promise<void>) => () => void;
  log: (line: string) => void;
}

export interface PodOutcome {
  mechanism: string;
  rows: PodRow[];
  pairs: PodPair[];
  soak: SoakRow | null;
  notes: string[];
}

const SEED_USERS = 20;
/** The light traffic of the 5 s after ready: POST /users at a rate any healthy pod serves. */
const LIGHT_RATE = 20;
const LIGHT_S = 5;

const mb = (bytes: number | null) => (bytes === null ? null : round(bytes / 1024 / 1024, 1));

function figures(result: LoadResult): RunFigures {
  return {
    req_per_s: Math.round(result.req_per_s),
    p50_ms: round(result.p50_ms, 2),
    p99_ms: round(result.p99_ms, 2),
    failed: result.failed,
    status_5xx: result.status_5xx ?? 0,
    status_503: result.status_503 ?? 0,
  };
}

/** One start of a contender inside a fresh group; the group is removed, its kernel figures kept. */
async function inPod<T>(
  plan: PodPlan,
  c: Contender,
  phase: string,
  work: (server: Started) => Promise<T>,
): Promise<{ value: T; readyMs: number; listenMs: number; stats: GroupStats; exited: boolean }> {
  const limits: Limits = { cpus: plan.limits.cpus, memoryBytes: plan.limits.memoryBytes };
  const group = createLimitedGroup({
    name: `user-service-bench-${process.pid}-${c.label.replace(/[^a-z0-9]+/gi, '-')}-${phase}`,
    limits,
    ...(plan.dockerImage ? { dockerImage: plan.dockerImage } : {}),
    dockerMounts: plan.dockerMounts,
  });
  const forget = plan.onClose(group.remove);
  try {
    const server = await c.start(await c.freshStorage(0), { group, nodeOptions: plan.limits.nodeOptions });
    const untrack = plan.track(server);
    try {
      const value = await work(server);
      const exited = server.child.exitCode !== null || server.child.signalCode !== null;
      return {
        value,
        readyMs: server.readyMs,
        listenMs: server.listenMs,
        stats: await group.stats(),
        exited,
      };
    } finally {
      await server.stop();
      untrack();
    }
  } finally {
    await group.remove();
    forget();
  }
}

/** The warm run's first 5 s: POST /users at a rate any healthy pod serves, its 503s counted. */
function lightTraffic(plan: PodPlan, server: Started, emailPrefix: string) {
  return openLoopProcess(
    {
      url: server.url,
      rate: LIGHT_RATE,
      durationS: LIGHT_S,
      connections: 4,
      spec: { scenario: 'post', ids: [], emailPrefix },
    },
    plan.loadCpu,
  );
}

function loadSettings(plan: PodPlan, url: string, durationS: number) {
  return {
    url,
    connections: plan.connections,
    durationS,
    workDir: plan.workDir,
    ...(plan.loadCpu === undefined ? {} : { cpu: plan.loadCpu }),
  };
}

/**
 * Every contender under the Deployment's limits, twice from a fresh start: cold (saturating load from the moment
 * it is ready) and warm (5 s of light POST traffic first, whose 503s are counted, then saturating load).
 */
export async function runPodMode(plan: PodPlan): Promise<PodOutcome> {
  const outcome: PodOutcome = { mechanism: '', rows: [], pairs: [], soak: null, notes: [] };
  for (const c of plan.contenders) {
    const began = performance.now();
    const scenario = c.scenarios[0]!;
    const spec = async (server: Started, phase: string): Promise<LoadSpec> => ({
      scenario,
      ids:
        scenario === 'get-by-id'
          ? await seedUsers(server.url, SEED_USERS, `${c.contender}-pod-${phase}`)
          : [],
      emailPrefix: `${c.contender}-pod-${phase}-`,
      countStatuses: true,
    });
    try {
      const cold = await inPod(plan, c, 'cold', async (server) =>
        plan.generate(await spec(server, 'cold'), loadSettings(plan, server.url, plan.coldS)),
      );
      const warm = await inPod(plan, c, 'warm', async (server) => {
        const light = await lightTraffic(plan, server, `${c.contender}-pod-light-`);
        const result = await plan.generate(
          await spec(server, 'warm'),
          loadSettings(plan, server.url, plan.warmS),
        );
        return { light, result };
      });
      const oom = [cold.stats.oomKills, warm.stats.oomKills];
      const row: PodRow = {
        contender: c.contender,
        storage: c.storage,
        scenario,
        ready_ms: round(median([cold.readyMs, warm.readyMs]), 1),
        listen_ms: round(median([cold.listenMs, warm.listenMs]), 1),
        cold: figures(cold.value),
        warm: figures(warm.value.result),
        post_503_after_ready: warm.value.light.status_503,
        peak_memory_mb: mb(
          cold.stats.peakBytes === null || warm.stats.peakBytes === null
            ? null
            : Math.max(cold.stats.peakBytes, warm.stats.peakBytes),
        ),
        oom_kills: oom.includes(null) ? null : (oom[0] ?? 0) + (oom[1] ?? 0),
        throttled_ms:
          cold.stats.throttledMs === null || warm.stats.throttledMs === null
            ? null
            : Math.round(cold.stats.throttledMs + warm.stats.throttledMs),
        ratio_vs_node: null,
      };
      outcome.rows.push(row);
      plan.log(
        `pod ${scenario.padEnd(9)} ${c.label.padEnd(28)} ready ${Math.round(row.ready_ms)} ms; ` +
          `cold ${row.cold.req_per_s} req/s P99 ${row.cold.p99_ms} ms; warm ${row.warm.req_per_s} req/s P99 ${row.warm.p99_ms} ms; ` +
          `peak ${row.peak_memory_mb ?? 'n/a'} MiB, OOM ${row.oom_kills ?? 'n/a'}, 5xx ${row.cold.status_5xx + row.warm.status_5xx}, ` +
          `503 after ready ${row.post_503_after_ready} (${Math.round((performance.now() - began) / 1000)} s)`,
      );
      if (cold.exited || warm.exited) outcome.notes.push(`pod ${c.label}: the process ended during its run`);
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr?.trim().split('\n').at(-1) ?? '';
      const why = `pod ${c.label}: ${(error as Error).message.split('\n')[0]?.slice(0, 300)}${stderr ? ` (${stderr.slice(0, 200)})` : ''}`;
      plan.log(why);
      outcome.notes.push(why);
    }
  }
  for (const row of outcome.rows) {
    const node = outcome.rows.find((r) => r.contender === BASELINES.node && r.scenario === row.scenario);
    row.ratio_vs_node = ratio(row.warm.req_per_s, node?.warm.req_per_s);
  }
  const byName = (name: string) =>
    plan.contenders.find((c) => c.contender === name && c.scenarios[0] === 'get-by-id');
  for (const [a, b] of [
    ['user-service', BASELINES.node],
    ['user-service', TRACING_OFF_CONTENDER],
    [TRACING_ALL_CONTENDER, BASELINES.node],
  ] as const) {
    const first = byName(a);
    const second = byName(b);
    if (!first || !second) continue;
    try {
      outcome.pairs.push(await paired(plan, first, second));
    } catch (error) {
      outcome.notes.push(`pod pair ${a} vs ${b}: ${(error as Error).message.split('\n')[0]?.slice(0, 300)}`);
    }
  }
  if (plan.soakContender && plan.soakS > 0)
    outcome.soak = await soak(plan, plan.soakContender, outcome.notes);
  return outcome;
}

/**
 * Both contenders started in groups of their own, given the warm run's 5 s of light traffic at once, seeded, then
 * loaded at saturation in parallel for the warm run's length.
 */
async function paired(plan: PodPlan, a: Contender, b: Contender): Promise<PodPair> {
  const scenario = 'get-by-id' as const;
  const run = await inPod(plan, a, 'pair-a', (serverA) =>
    inPod(plan, b, 'pair-b', async (serverB) => {
      const servers = [
        [a, serverA],
        [b, serverB],
      ] as const;
      await Promise.all(
        servers.map(([c, server]) => lightTraffic(plan, server, `${c.contender}-pair-light-`)),
      );
      const specs = await Promise.all(
        servers.map(async ([c, server]) => ({
          scenario,
          ids: await seedUsers(server.url, SEED_USERS, `${c.contender}-pair`),
          emailPrefix: `${c.contender}-pair-`,
          countStatuses: true,
        })),
      );
      return Promise.all(
        servers.map(([, server], i) => plan.generate(specs[i]!, loadSettings(plan, server.url, plan.warmS))),
      );
    }),
  );
  const [resultA, resultB] = run.value.value;
  const pair: PodPair = {
    a: a.contender,
    b: b.contender,
    scenario,
    a_req_per_s: Math.round(resultA!.req_per_s),
    b_req_per_s: Math.round(resultB!.req_per_s),
    ratio: ratio(resultA!.req_per_s, resultB!.req_per_s),
  };
  plan.log(
    `pod pair ${scenario} ${a.label} ${pair.a_req_per_s} req/s vs ${b.label} ${pair.b_req_per_s} req/s at once: ${pair.ratio ?? 'n/a'}x`,
  );
  return pair;
}

async function soak(plan: PodPlan, c: Contender, notes: string[]): Promise<SoakRow | null> {
  const scenario = c.scenarios[0]!;
  plan.log(`pod soak: ${c.label} ${scenario} at -c${plan.connections} for ${plan.soakS} s`);
  try {
    const run = await inPod(plan, c, 'soak', async (server) => {
      const ids =
        scenario === 'get-by-id' ? await seedUsers(server.url, SEED_USERS, `${c.contender}-soak`) : [];
      return plan.generate(
        { scenario, ids, emailPrefix: `${c.contender}-soak-`, countStatuses: true },
        loadSettings(plan, server.url, plan.soakS),
      );
    });
    const row: SoakRow = {
      contender: c.contender,
      storage: c.storage,
      scenario,
      duration_s: plan.soakS,
      run: figures(run.value),
      requests: run.value.requests,
      peak_memory_mb: mb(run.stats.peakBytes),
      oom_kills: run.stats.oomKills,
      exited: run.exited,
    };
    plan.log(
      `pod soak: ${row.requests} requests, ${row.run.req_per_s} req/s, P99 ${row.run.p99_ms} ms, failed ${row.run.failed}, ` +
        `peak ${row.peak_memory_mb ?? 'n/a'} MiB, OOM ${row.oom_kills ?? 'n/a'}${row.exited ? ', process ended' : ''}`,
    );
    return row;
  } catch (error) {
    notes.push(`pod soak ${c.label}: ${(error as Error).message.split('\n')[0]?.slice(0, 300)}`);
    return null;
  }
}
