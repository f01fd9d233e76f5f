import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { formatBudgets } from './lib/budgets.ts';
import { type FullResults, writeResultFiles } from './lib/report-files.ts';
import { formatPodTable, formatTable } from './lib/table.ts';

/** Re-renders table, budgets, SVG and Markdown from an existing latest.json (after a change to how they are judged). */
const dir = resolve(import.meta.dirname, '..', process.argv[2] ?? 'bench/results');
const results = JSON.parse(await readFile(join(dir, 'latest.json'), 'utf8')) as FullResults;
const root = resolve(import.meta.dirname, '..');
const budgets = await writeResultFiles(
  dir,
  results,
  dir === join(root, 'bench/results') ? join(root, 'README.md') : undefined,
);
const pod = results.pod?.rows.length ? `${formatPodTable(results.pod.rows)}\n\n` : '';
console.log(`${pod}${formatTable(results.scenarios)}\n\n${formatBudgets(budgets)}`);
