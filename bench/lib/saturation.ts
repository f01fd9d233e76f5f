import { type Contender, isUserService } from './contenders.ts';
import type { LoadGenerator, LoadSpec } from './load.ts';
import { openLoopProcess } from './open-loop.ts';
import type { Started } from './processes.ts';
import { sampleRss } from './processes.ts';
import type { ConstantRateRow, Measurement, ScenarioName } from './results.ts';
import { metricsSummary, seedUsers } from './seed.ts';
import { median, round } from './stats.ts';

export interface SaturationPlan {
  contenders: readonly Contender[];
  scenarios: readonly ScenarioName[];
  rounds: number;
  warmupS: number;
  /** Warm-up of each started contender's first scenario in a round. */
  firstWarmupS: number;
  durationS: number;
  connections: number;
  /** Seconds of the constant-rate run, last round only; 0 skips it. */
  constantRateS: number;
  generate: LoadGenerator;
  workDir: string;
  loadCpu: number | undefined;
  /** Registers a started server so an interrupted run still stops it. */
  track: (server: Started) => () => void;
  log: (line: string) => void;
}

export interface SaturationOutcome {
  measurements: Measurement[];
  constantRate: ConstantRateRow[];
  metrics: string[];
  notes: string[];
}

const SEED_USERS = 100;
/** The constant-rate runs cover reads and writes; the list scenario adds little to what they show. */
const CONSTANT_RATE_SCENARIOS: readonly ScenarioName[] = ['get-by-id', 'post'];

/**
 * Unconstrained rounds: fresh instances and data each round, every contender loaded in turn (the starting one
 * rotates) at -c connections, then, in the last round, a constant-rate run at half of what it just sustained.
 */
export async function runSaturation(plan: SaturationPlan): Promise<SaturationOutcome> {
  const outcome: SaturationOutcome = { measurements: [], constantRate: [], metrics: [], notes: [] };
  const list = plan.contenders;
  for (let r = 1; r <= plan.rounds; r++) {
    const offset = (r - 1) % list.length;
    const order = [...list.slice(offset), ...list.slice(0, offset)];
    const running = new Map<
      Contender,
      { server: Started; ids: string[]; untrack: () => void; warmedUp: boolean }
    >();
    for (const c of order) {
      try {
        const server = await c.start(await c.freshStorage(r));
        const untrack = plan.track(server);
        running.set(c, {
          server,
          untrack,
          ids: await seedUsers(server.url, SEED_USERS, `${c.contender}-${r}`),
          warmedUp: false,
        });
      } catch (error) {
        const why = `round ${r} ${c.label}: could not start or seed (${(error as Error).message.slice(0, 300)})`;
        plan.log(why);
        outcome.notes.push(why);
      }
    }
    for (const scenario of plan.scenarios) {
      for (const c of order) {
        const entry = running.get(c);
        if (!entry || !c.scenarios.includes(scenario)) continue;
        const { server, ids } = entry;
        if (server.child.exitCode !== null || server.child.signalCode !== null) continue;
        const spec = (phase: string): LoadSpec => ({
          scenario,
          ids,
          emailPrefix: `${c.contender}-${r}${phase}-`,
        });
        const settings = {
          url: server.url,
          connections: plan.connections,
          workDir: plan.workDir,
          ...(plan.loadCpu === undefined ? {} : { cpu: plan.loadCpu }),
        };
        const rss = sampleRss(server.pid);
        let result: Awaited<ReturnType<LoadGenerator>>;
        // A fresh process spends its first seconds under load in V8's compilers and growing its young generation:
        // its first scenario gets a longer warm-up, whose figures stay in the notes (pod mode's cold runs measure
        // exactly that moment).
        const first = !entry.warmedUp;
        const warmupS = first ? plan.firstWarmupS : plan.warmupS;
        entry.warmedUp = true;
        try {
          if (warmupS > 0) {
            const warmUp = await plan.generate(spec('w'), { ...settings, durationS: warmupS });
            if (first && r === plan.rounds)
              outcome.notes.push(
                `fresh process, ${scenario} ${c.label}: ${Math.round(warmUp.req_per_s)} req/s, P99 ${warmUp.p99_ms.toFixed(2)} ms over its first ${warmupS} s of load (the warm-up before the measured run)`,
              );
          }
          result = await plan.generate(spec('m'), { ...settings, durationS: plan.durationS });
        } catch (error) {
          rss.stop();
          const why = `round ${r} ${scenario} ${c.label}: load run failed (${(error as Error).message.split('\n')[0]}); server stderr: ${server.stderrTail().slice(-300) || 'empty'}`;
          plan.log(why);
          outcome.notes.push(why);
          continue;
        }
        const peak = rss.stop();
        const { status_5xx: _5xx, status_503: _503, ...figures } = result;
        outcome.measurements.push({
          scenario,
          storage: c.storage,
          contender: c.contender,
          round: r,
          ...figures,
          rss_mb: peak,
        });
        const failed = result.failed > 0 ? `, ${result.failed} failed of ${result.requests}` : '';
        plan.log(
          `round ${r} ${scenario.padEnd(9)} ${c.label.padEnd(28)} ${Math.round(result.req_per_s)} req/s, ` +
            `P50 ${result.p50_ms.toFixed(2)} ms, P99 ${result.p99_ms.toFixed(2)} ms, RSS ${peak.toFixed(1)} MB${failed}`,
        );
        if (result.failed > result.requests * 0.01)
          outcome.notes.push(
            `round ${r} ${scenario} ${c.label}: ${result.failed} of ${result.requests} requests failed`,
          );
        if (r === plan.rounds && plan.constantRateS > 0 && CONSTANT_RATE_SCENARIOS.includes(scenario)) {
          const row = await constantRate(plan, c, spec('c'), server.url, result.req_per_s);
          if (typeof row === 'string') outcome.notes.push(row);
          else outcome.constantRate.push(row);
        }
      }
    }
    for (const [c, { server, untrack }] of running) {
      if (isUserService(c)) outcome.metrics.push(await metricsSummary(server.url, c.label));
      await server.stop();
      untrack();
    }
  }
  return outcome;
}

async function constantRate(
  plan: SaturationPlan,
  c: Contender,
  spec: LoadSpec,
  url: string,
  saturatedRate: number,
): Promise<ConstantRateRow | string> {
  const rate = Math.max(10, Math.round(saturatedRate / 2));
  try {
    const result = await openLoopProcess(
      { url, rate, durationS: plan.constantRateS, connections: plan.connections, spec },
      plan.loadCpu,
    );
    plan.log(
      `          constant ${String(rate).padStart(6)} req/s ${c.label.padEnd(28)} P50 ${result.p50_ms.toFixed(2)} ms, ` +
        `P99 ${result.p99_ms.toFixed(2)} ms, P99.9 ${result.p999_ms.toFixed(2)} ms (sender lag P99 ${result.generator_lag_p99_ms} ms)`,
    );
    return {
      name: spec.scenario,
      storage: c.storage,
      contender: c.contender,
      rate,
      req_per_s: result.req_per_s,
      p50_ms: round(result.p50_ms, 2),
      p99_ms: round(result.p99_ms, 2),
      p999_ms: round(result.p999_ms, 2),
      failed: result.failed,
      generator_lag_p99_ms: result.generator_lag_p99_ms,
    };
  } catch (error) {
    return `constant-rate ${spec.scenario} ${c.label}: ${(error as Error).message.split('\n')[0]}`;
  }
}

/** Medians of the start-to-ready samples, keyed as the budgets read them. */
export function medianStartup(samples: Map<string, number[]>): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [key, values] of samples) result[key] = round(median(values), 1);
  return result;
}
