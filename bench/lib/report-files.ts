import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BudgetLine, evaluateBudgets, formatBudgetsMarkdown } from './budgets.ts';
import { type CostRow, formatCostsMarkdown } from './costs.ts';
import {
  type BenchResults,
  type ConstantRateRow,
  contenderLabel,
  type PodPair,
  type PodRow,
  type ScenarioRow,
  type SoakRow,
} from './results.ts';
import { renderSvg } from './svg.ts';
import { formatConstantRateTable, formatMarkdownTable, formatPodTable, readyCell } from './table.ts';

/** latest.json as the driver writes it; every section but `scenarios` may be absent (older files, partial modes). */
export interface FullResults extends BenchResults {
  command?: string;
  startup_ms?: Record<string, number>;
  settings?: { connections?: number } & Record<string, unknown>;
  /** First `npm start` after the install (its postinstall warms the compile cache). */
  fresh_clone_start_ms?: number | null;
  /** The same without the install's compile cache; absent in older files. */
  fresh_clone_uncached_start_ms?: number | null;
  constant_rate?: ConstantRateRow[];
  pod?: {
    limits: string;
    mechanism: string;
    command: string;
    soak_target_s: number;
    rows: PodRow[];
    /** Absent in results from before paired runs. */
    pairs?: PodPair[];
    soak: SoakRow | null;
  } | null;
  /** Where a request's CPU goes, part by part (bench/lib/costs.ts); absent in older files. */
  costs?: CostRow[];
  budgets?: BudgetLine[];
  notes?: string[];
}

export function budgetsOf(results: FullResults): BudgetLine[] {
  return evaluateBudgets({
    rows: results.scenarios,
    startupMs: results.startup_ms ?? {},
    connections: results.settings?.connections ?? 50,
    pod: results.pod
      ? {
          rows: results.pod.rows,
          ...(results.pod.pairs ? { pairs: results.pod.pairs } : {}),
          soak: results.pod.soak,
          soakTargetS: results.pod.soak_target_s,
        }
      : undefined,
    freshCloneMs: results.fresh_clone_start_ms ?? undefined,
    freshCloneUncachedMs: results.fresh_clone_uncached_start_ms ?? undefined,
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
    if (results.pod.pairs && results.pod.pairs.length > 0)
      parts.push(
        'Side by side (each pod in its own group with the same limits, both pinned to the server core, both loaded at ' +
          'once after 5 s of light traffic; the ratio lines below use these):\n\n' +
          results.pod.pairs
            .map(
              (p) =>
                `- ${p.scenario}: ${p.a} ${p.a_req_per_s} req/s vs ${p.b} ${p.b_req_per_s} req/s = ${p.ratio ?? 'n/a'}x`,
            )
            .join('\n'),
      );
    if (results.pod.soak) parts.push(soakLine(results.pod.soak));
  }
  if (results.scenarios.length > 0)
    parts.push(`## Unconstrained\n\n${formatMarkdownTable(results.scenarios as ScenarioRow[])}`);
  if (results.constant_rate && results.constant_rate.length > 0)
    parts.push(
      `## Constant rate\n\nEach contender offered half the req/s it sustained at saturation, latency measured from each request's scheduled send time (coordinated omission corrected).\n\n${formatConstantRateTable(results.constant_rate, true)}`,
    );
  if (results.costs && results.costs.length > 0) {
    const raw = results.scenarios.find((r) => r.name === 'get-by-id' && r.contender === 'node-raw');
    parts.push(
      "## Where a request's CPU goes\n\nEach part of the platform's request path in a process of its own on the server core, against a baseline loop in the same process (`bench/cost-probe.ts`; reproduce: `npm run bench -- --costs`). The share compares it with a whole raw node:http GET by id of the unconstrained run above (one core, saturated).\n\n" +
        formatCostsMarkdown(results.costs, raw ? 1e6 / raw.req_per_s : undefined),
    );
  }
  if (results.command) parts.push(`This run: \`${results.command}\` at ${results.date}.`);
  parts.push(formatBudgetsMarkdown(budgets));
  return `${parts.join('\n\n')}\n`;
}

const README_START = '<!-- pod-bench:start -->';
const README_END = '<!-- pod-bench:end -->';

/** The README's performance block: the pod-mode figures of latest.json, how many targets hold, and the command. */
export function renderReadmeBlock(results: FullResults, budgets: readonly BudgetLine[]): string {
  const rows = results.pod?.rows ?? [];
  const n = (value: number | null) => (value === null ? 'n/a' : String(value));
  const table = [
    '| contender | scenario | ready ms (listening) | cold req/s | cold P99 ms | warm req/s | warm P99 ms | vs node | peak MiB | OOM |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (row) =>
        `| ${contenderLabel(row.contender, row.storage)} | ${row.scenario} | ` +
        `${readyCell(row)} | ${row.cold.req_per_s} | ${row.cold.p99_ms.toFixed(1)} | ${row.warm.req_per_s} | ` +
        `${row.warm.p99_ms.toFixed(1)} | ${row.ratio_vs_node === null ? 'n/a' : `${row.ratio_vs_node.toFixed(2)}x`} | ` +
        `${n(row.peak_memory_mb)} | ${n(row.oom_kills)} |`,
    ),
  ].join('\n');
  const passed = budgets.filter((line) => line.pass).length;
  const where = results.pod ? `${results.pod.limits}, ${results.pod.mechanism}` : 'no pod-mode run';
  return (
    `${where}; ${results.date}. Reproduce: \`${results.pod?.command ?? 'npm run bench -- --pod'}\`\n\n${table}\n\n` +
    `Targets: ${passed} of ${budgets.length} pass; each, with its margin, in ` +
    `[bench/results/latest.md](bench/results/latest.md).`
  );
}

/** `readme` with its performance block replaced by `block`; the markers must be there. */
export function withReadmeBlock(readme: string, block: string): string {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start === -1 || end < start)
    throw new Error(`the README has no ${README_START} ... ${README_END} block`);
  return `${readme.slice(0, start + README_START.length)}\n${block}\n${readme.slice(end)}`;
}

/** The committed results also refresh the README's block, so its figures always come from latest.json. */
export async function writeResultFiles(
  outDir: string,
  results: FullResults,
  readmePath?: string,
): Promise<BudgetLine[]> {
  const budgets = budgetsOf(results);
  results.budgets = budgets;
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(outDir, 'latest.svg'), renderSvg(results, budgets));
  await writeFile(join(outDir, 'latest.md'), renderMarkdown(results, budgets));
  if (readmePath !== undefined) {
    const readme = await readFile(readmePath, 'utf8');
    await writeFile(readmePath, withReadmeBlock(readme, renderReadmeBlock(results, budgets)));
  }
  return budgets;
}
