import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BudgetLine, evaluateBudgets, formatBudgetsMarkdown } from './budgets.ts';
import type { BenchResults, ConstantRateRow, PodRow, ScenarioRow, SoakRow } from './results.ts';
import { renderSvg } from './svg.ts';
import { formatConstantRateTable, formatMarkdownTable, formatPodTable } from './table.ts';

/** latest.json as the driver writes it; every section but `scenarios` may be absent (older files, partial modes). */
export interface FullResults extends BenchResults {
  command?: string;
  startup_ms?: Record<string, number>;
  settings?: { connections?: number } & Record<string, unknown>;
  fresh_clone_start_ms?: number | null;
  constant_rate?: ConstantRateRow[];
  pod?: {
    limits: string;
    mechanism: string;
    command: string;
    soak_target_s: number;
    rows: PodRow[];
    soak: SoakRow | null;
  } | null;
  budgets?: BudgetLine[];
  notes?: string[];
}

export function budgetsOf(results: FullResults): BudgetLine[] {
  return evaluateBudgets({
    rows: results.scenarios,
    startupMs: results.startup_ms ?? {},
    connections: results.settings?.connections ?? 50,
    pod: results.pod
      ? { rows: results.pod.rows, soak: results.pod.soak, soakTargetS: results.pod.soak_target_s }
      : undefined,
    freshCloneMs: results.fresh_clone_start_ms ?? undefined,
  });
}

function soakLine(soak: SoakRow): string {
  return (
    `Soak: ${soak.contender}/${soak.storage} ${soak.scenario} at saturation for ${soak.duration_s} s: ` +
    `${soak.requests} requests, ${soak.run.req_per_s} req/s, P99 ${soak.run.p99_ms} ms, ${soak.run.failed} failed, ` +
    `peak ${soak.peak_memory_mb ?? 'n/a'} MiB, ${soak.oom_kills ?? 'n/a'} OOM kills${soak.exited ? ', the process ended' : ''}.`
  );
}

/** The Markdown page: the pod-mode table first, with the command that reproduces it. */
export function renderMarkdown(results: FullResults, budgets: readonly BudgetLine[]): string {
  const parts: string[] = [];
  if (results.pod && results.pod.rows.length > 0) {
    parts.push(
      `## Under the Deployment's limits (pod mode)\n\n${results.pod.limits}; limits applied with ${results.pod.mechanism}. ` +
        `Cold: saturating load (-c${results.settings?.connections ?? 50}) from the moment /readyz answers 200; warm: a fresh start, ` +
        `5 s of POST /users at 20 req/s (its 503s counted), then saturating load. Ratios compare warm req/s.\n\n` +
        `Reproduce: \`${results.pod.command}\`\n\n${formatPodTable(results.pod.rows, true)}`,
    );
    if (results.pod.soak) parts.push(soakLine(results.pod.soak));
  }
  if (results.scenarios.length > 0)
    parts.push(`## Unconstrained\n\n${formatMarkdownTable(results.scenarios as ScenarioRow[])}`);
  if (results.constant_rate && results.constant_rate.length > 0)
    parts.push(
      `## Constant rate\n\nEach contender offered half the req/s it sustained at saturation, latency measured from each request's scheduled send time (coordinated omission corrected).\n\n${formatConstantRateTable(results.constant_rate, true)}`,
    );
  if (results.command) parts.push(`This run: \`${results.command}\` at ${results.date}.`);
  parts.push(formatBudgetsMarkdown(budgets));
  return `${parts.join('\n\n')}\n`;
}

export async function writeResultFiles(outDir: string, results: FullResults): Promise<BudgetLine[]> {
  const budgets = budgetsOf(results);
  results.budgets = budgets;
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(outDir, 'latest.svg'), renderSvg(results, budgets));
  await writeFile(join(outDir, 'latest.md'), renderMarkdown(results, budgets));
  return budgets;
}
