import { BASELINES, type ScenarioRow } from './results.ts';

export interface BudgetLine {
  budget: string;
  figure: string;
  pass: boolean;
}

export interface BudgetInputs {
  rows: readonly ScenarioRow[];
  /** Median spawn-to-/readyz-200 time of the user-service, by storage (and flags). */
  startupMs: Record<string, number>;
  connections: number;
}

export const LIMITS = { ratioVsNode: 0.8, p99Ms: 10, startupMs: 400, rssMb: 100 } as const;

/** The budgets as PASS/FAIL lines; a FAIL is a figure to act on, not an error. */
export function evaluateBudgets({ rows, startupMs, connections }: BudgetInputs): BudgetLine[] {
  const lines: BudgetLine[] = [];
  const service = rows.filter((r) => r.contender === 'user-service');

  const getById = service.find((r) => r.name === 'get-by-id' && r.storage === 'memory');
  const node = rows.find((r) => r.name === 'get-by-id' && r.contender === BASELINES.node);
  if (getById && node && getById.ratio_vs_node !== null) {
    lines.push({
      budget: `GET by id (memory://, everything on) >= ${LIMITS.ratioVsNode.toFixed(2)}x raw node:http req/s`,
      figure: `${getById.ratio_vs_node.toFixed(2)}x (${getById.req_per_s} vs ${node.req_per_s} req/s)`,
      pass: getById.ratio_vs_node >= LIMITS.ratioVsNode,
    });
  }
  for (const row of service) {
    lines.push({
      budget: `P99 <= ${LIMITS.p99Ms} ms at ${connections} connections: ${row.name} on ${row.storage}`,
      figure: `${row.p99_ms} ms`,
      pass: row.p99_ms <= LIMITS.p99Ms,
    });
  }
  for (const [storage, ms] of Object.entries(startupMs)) {
    lines.push({
      budget: `start to ready <= ${LIMITS.startupMs} ms: ${storage}`,
      figure: `${Math.round(ms)} ms`,
      pass: ms <= LIMITS.startupMs,
    });
  }
  // POST keeps every user it creates (the baselines' RSS grows the same way), so RSS is judged on the reads.
  const reads = service.filter((r) => r.name !== 'post');
  for (const storage of new Set(reads.map((r) => r.storage))) {
    const peak = Math.max(...reads.filter((r) => r.storage === storage).map((r) => r.rss_mb));
    lines.push({
      budget: `RSS under load (GET scenarios) <= ${LIMITS.rssMb} MB: ${storage}`,
      figure: `${peak} MB peak`,
      pass: peak <= LIMITS.rssMb,
    });
  }
  return lines;
}

export function formatBudgets(lines: readonly BudgetLine[]): string {
  return lines.map((l) => `${l.pass ? 'PASS' : 'FAIL'}  ${l.budget}: ${l.figure}`).join('\n');
}
