import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { evaluateBudgets, formatBudgets } from './lib/budgets.ts';
import type { BenchResults } from './lib/results.ts';
import { renderSvg } from './lib/svg.ts';
import { formatMarkdownTable, formatTable } from './lib/table.ts';

/** Re-renders table, budgets, SVG and Markdown from an existing latest.json (after a change to how they are judged). */
const dir = resolve(import.meta.dirname, '..', process.argv[2] ?? 'bench/results');
const results = JSON.parse(await readFile(join(dir, 'latest.json'), 'utf8')) as BenchResults & {
  startup_ms: Record<string, number>;
  settings: { connections: number };
};
const budgets = evaluateBudgets({
  rows: results.scenarios,
  startupMs: results.startup_ms,
  connections: results.settings.connections,
});
results.budgets = budgets;
await writeFile(join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
await writeFile(join(dir, 'latest.svg'), renderSvg(results, budgets));
await writeFile(
  join(dir, 'latest.md'),
  `${formatMarkdownTable(results.scenarios)}\n\n${budgets.map((b) => `- ${b.pass ? 'PASS' : 'FAIL'} ${b.budget}: ${b.figure}`).join('\n')}\n`,
);
console.log(`${formatTable(results.scenarios)}\n\n${formatBudgets(budgets)}`);
