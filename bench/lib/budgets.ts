import {
  BASELINES,
  PG_RAW_CONTENDER,
  type PodPair,
  type PodRow,
  type ScenarioRow,
  type SoakRow,
  TRACING_ALL_CONTENDER,
  TRACING_OFF_CONTENDER,
} from './results.ts';

export interface BudgetLine {
  budget: string;
  figure: string;
  pass: boolean;
  /** By how much a failing figure misses its target. */
  margin?: string;
}

export interface BudgetInputs {
  rows: readonly ScenarioRow[];
  /** Median spawn-to-/readyz-200 time of the user-service, by storage (and flags), unconstrained. */
  startupMs: Record<string, number>;
  connections: number;
  pod?:
    | { rows: readonly PodRow[]; pairs?: readonly PodPair[]; soak: SoakRow | null; soakTargetS: number }
    | undefined;
  /** Median first `npm start` of a fresh clone after the install, spawn to ready. */
  freshCloneMs?: number | undefined;
  /** The same without the compile cache the install warms (shown beside it). */
  freshCloneUncachedMs?: number | undefined;
}

export const LIMITS = {
  ratioVsNode: 0.6,
  ratioVsNodeGoal: 0.8,
  postVsPgRaw: 0.7,
  p99Ms: 10,
  pglitePp99Ms: 100,
  startupMs: 400,
  rssMb: 100,
  podTracingCost: 0.15,
  podTracingAllVsNode: 0.3,
  podP99Ms: 200,
  podStartupMs: 1000,
  freshCloneMs: 3000,
  soakS: 300,
} as const;

const percent = (value: number) => `${Math.round(value * 100)}%`;

/** A `>= target` line; the margin says how far below. */
function atLeast(budget: string, value: number, target: number, figure: string, unit = 'x'): BudgetLine {
  const pass = value >= target;
  return {
    budget,
    figure,
    pass,
    ...(pass
      ? {}
      : { margin: `short by ${(target - value).toFixed(2)}${unit} (${percent(1 - value / target)} below)` }),
  };
}

/** A `<= target` line; the margin says how far over. */
function atMost(budget: string, value: number, target: number, figure: string, unit: string): BudgetLine {
  const pass = value <= target;
  const over = Number.isFinite(value) ? `${Math.round((value - target) * 100) / 100} ${unit}` : 'unmeasured';
  return {
    budget,
    figure,
    pass,
    ...(pass
      ? {}
      : {
          margin: `over by ${over}${Number.isFinite(value) && target > 0 ? ` (${percent(value / target - 1)})` : ''}`,
        }),
  };
}

function ratioLine(
  budget: string,
  service: number,
  reference: number,
  target: number,
  goal?: number,
  how = '',
): BudgetLine {
  const value = Math.round((service / reference) * 100) / 100;
  const goalNote =
    goal !== undefined && value >= target && value < goal ? `; goal ${goal.toFixed(2)}x not yet met` : '';
  return atLeast(
    budget,
    value,
    target,
    `${value.toFixed(2)}x (${service} vs ${reference} req/s${how})${goalNote}`,
  );
}

const PAIRED = ', both pods at once';

/** The figures of a paired run when there is one, else those of the two sequential warm runs. */
function compared(
  pairs: readonly PodPair[] | undefined,
  a: PodRow | undefined,
  b: PodRow | undefined,
): { a: number; b: number; how: string } | undefined {
  const pair = a && b ? pairs?.find((p) => p.a === a.contender && p.b === b.contender) : undefined;
  if (pair && pair.b_req_per_s > 0) {
    const sequential =
      b && b.warm.req_per_s > 0
        ? `; run one after the other ${(a!.warm.req_per_s / b.warm.req_per_s).toFixed(2)}x`
        : '';
    return { a: pair.a_req_per_s, b: pair.b_req_per_s, how: `${PAIRED}${sequential}` };
  }
  if (a && b && b.warm.req_per_s > 0) return { a: a.warm.req_per_s, b: b.warm.req_per_s, how: '' };
  return undefined;
}

/** The targets as PASS/FAIL lines; a FAIL is a figure to act on, not an error. */
export function evaluateBudgets({
  rows,
  startupMs,
  connections,
  pod,
  freshCloneMs,
  freshCloneUncachedMs,
}: BudgetInputs): BudgetLine[] {
  return [
    ...(pod ? podBudgets(pod) : []),
    ...unconstrainedBudgets(rows, startupMs, connections),
    ...(freshCloneMs === undefined
      ? []
      : [
          atMost(
            `first npm start of a fresh clone after npm ci (PGlite created and migrated) <= ${LIMITS.freshCloneMs} ms`,
            freshCloneMs,
            LIMITS.freshCloneMs,
            `${Math.round(freshCloneMs)} ms` +
              (freshCloneUncachedMs === undefined
                ? ''
                : ` (without the compile cache npm ci's postinstall warms: ${Math.round(freshCloneUncachedMs)} ms)`),
            'ms',
          ),
        ]),
  ];
}

function unconstrainedBudgets(
  rows: readonly ScenarioRow[],
  startupMs: Record<string, number>,
  connections: number,
): BudgetLine[] {
  const lines: BudgetLine[] = [];
  const service = rows.filter((r) => r.contender === 'user-service');
  const getById = service.find((r) => r.name === 'get-by-id' && r.storage === 'memory');
  const node = rows.find((r) => r.name === 'get-by-id' && r.contender === BASELINES.node);
  if (getById && node)
    lines.push(
      ratioLine(
        `GET by id (memory://, everything on) >= ${LIMITS.ratioVsNode.toFixed(2)}x raw node:http req/s (goal ${LIMITS.ratioVsNodeGoal.toFixed(2)}x)`,
        getById.req_per_s,
        node.req_per_s,
        LIMITS.ratioVsNode,
        LIMITS.ratioVsNodeGoal,
      ),
    );
  const post = service.find((r) => r.name === 'post' && r.storage === 'postgres');
  const pgRaw = rows.find((r) => r.name === 'post' && r.contender === PG_RAW_CONTENDER);
  if (post && pgRaw)
    lines.push(
      ratioLine(
        `POST on PostgreSQL >= ${LIMITS.postVsPgRaw.toFixed(2)}x the raw pg contender req/s`,
        post.req_per_s,
        pgRaw.req_per_s,
        LIMITS.postVsPgRaw,
      ),
    );
  for (const row of service) {
    const limit = row.storage === 'pglite' ? LIMITS.pglitePp99Ms : LIMITS.p99Ms;
    if (row.storage === 'pglite' && row.name === 'list') continue;
    lines.push(
      atMost(
        `P99 <= ${limit} ms at ${connections} connections: ${row.name} on ${row.storage}`,
        row.p99_ms,
        limit,
        `${row.p99_ms} ms`,
        'ms',
      ),
    );
  }
  // PGlite's start is a file-backed database opening; its target is the fresh clone's, not the bundle's.
  for (const [storage, ms] of Object.entries(startupMs)) {
    if (storage.startsWith('pglite')) continue;
    lines.push(
      atMost(
        `start to ready <= ${LIMITS.startupMs} ms: ${storage}`,
        ms,
        LIMITS.startupMs,
        `${Math.round(ms)} ms`,
        'ms',
      ),
    );
  }
  // POST keeps every user it creates (the baselines' RSS grows the same way), so RSS is judged on the reads.
  const reads = service.filter((r) => r.name !== 'post');
  for (const storage of new Set(reads.map((r) => r.storage))) {
    const peak = Math.max(...reads.filter((r) => r.storage === storage).map((r) => r.rss_mb));
    lines.push(
      atMost(
        `RSS under load (GET scenarios) <= ${LIMITS.rssMb} MB: ${storage}`,
        peak,
        LIMITS.rssMb,
        `${peak} MB peak`,
        'MB',
      ),
    );
  }
  return lines;
}

function podBudgets({ rows, pairs, soak, soakTargetS }: NonNullable<BudgetInputs['pod']>): BudgetLine[] {
  const lines: BudgetLine[] = [];
  const find = (contender: string, storage = 'memory') =>
    rows.find((r) => r.contender === contender && r.storage === storage);
  const service = find('user-service');
  const node = find(BASELINES.node);
  const off = find(TRACING_OFF_CONTENDER);
  const all = find(TRACING_ALL_CONTENDER);
  const vsNode = compared(pairs, service, node);
  if (vsNode)
    lines.push(
      ratioLine(
        `pod: GET by id >= ${LIMITS.ratioVsNode.toFixed(2)}x raw node:http under the same limits (goal ${LIMITS.ratioVsNodeGoal.toFixed(2)}x, warm)`,
        vsNode.a,
        vsNode.b,
        LIMITS.ratioVsNode,
        LIMITS.ratioVsNodeGoal,
        vsNode.how,
      ),
    );
  const vsOff = compared(pairs, service, off);
  if (vsOff) {
    const cost = 1 - vsOff.a / vsOff.b;
    lines.push(
      atMost(
        `pod: tracing at production sampling costs <= ${percent(LIMITS.podTracingCost)} of GET req/s vs tracing off`,
        Math.round(cost * 1000) / 10,
        LIMITS.podTracingCost * 100,
        `${percent(cost)} (${vsOff.a} vs ${vsOff.b} req/s${vsOff.how})`,
        'points',
      ),
    );
  }
  const allVsNode = compared(pairs, all, node);
  if (allVsNode)
    lines.push(
      ratioLine(
        `pod: tracing ratio 1 >= ${LIMITS.podTracingAllVsNode.toFixed(2)}x raw node:http`,
        allVsNode.a,
        allVsNode.b,
        LIMITS.podTracingAllVsNode,
        undefined,
        allVsNode.how,
      ),
    );
  for (const row of rows.filter((r) => r.contender === 'user-service')) {
    const p99 = Math.max(row.cold.p99_ms, row.warm.p99_ms);
    lines.push(
      atMost(
        `pod: P99 at saturation <= ${LIMITS.podP99Ms} ms: ${row.scenario} on ${row.storage} (worse of cold and warm)`,
        p99,
        LIMITS.podP99Ms,
        `${p99} ms (cold ${row.cold.p99_ms}, warm ${row.warm.p99_ms})`,
        'ms',
      ),
    );
    lines.push(
      atMost(
        `pod: start to ready <= ${LIMITS.podStartupMs} ms under the CPU limit: ${row.storage}`,
        row.ready_ms,
        LIMITS.podStartupMs,
        `${Math.round(row.ready_ms)} ms`,
        'ms',
      ),
    );
    lines.push(
      atMost(
        `pod: no 503 to POST /users in the 5 s after ready: ${row.storage}`,
        row.post_503_after_ready,
        0,
        `${row.post_503_after_ready} 503s`,
        '503s',
      ),
    );
  }
  if (soak) {
    const shorter =
      soak.duration_s < soakTargetS ? ` (a ${soak.duration_s} s soak; --soak runs ${soakTargetS} s)` : '';
    const oom = soak.oom_kills ?? Number.NaN;
    lines.push(
      atMost(
        `pod: 0 OOM kills over a ${soak.duration_s} s saturation soak${shorter}`,
        oom,
        0,
        `${soak.oom_kills ?? 'n/a'} OOM kills, peak ${soak.peak_memory_mb ?? 'n/a'} MiB`,
        'kills',
      ),
      atMost(
        `pod: 0 failed requests over the soak`,
        soak.run.failed + (soak.exited ? 1 : 0),
        0,
        `${soak.run.failed} failed of ${soak.requests}${soak.exited ? ', the process ended' : ''}`,
        'requests',
      ),
    );
  }
  return lines;
}

export function formatBudgets(lines: readonly BudgetLine[]): string {
  return lines
    .map(
      (l) => `${l.pass ? 'PASS' : 'FAIL'}  ${l.budget}: ${l.figure}${l.margin ? `\n      ${l.margin}` : ''}`,
    )
    .join('\n');
}

/** One Markdown list item per line, the margin after the figure. */
export function formatBudgetsMarkdown(lines: readonly BudgetLine[]): string {
  return lines
    .map((b) => `- ${b.pass ? 'PASS' : 'FAIL'} ${b.budget}: ${b.figure}${b.margin ? ` (${b.margin})` : ''}`)
    .join('\n');
}
