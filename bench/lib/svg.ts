import type { BudgetLine } from './budgets.ts';
import { type BenchResults, contenderLabel, type PodRow, SCENARIOS, type ScenarioRow } from './results.ts';

const COLOURS: Record<string, string> = {
  'user-service': '#3b6ea5',
  'user-service+image-flags': '#8aa9cc',
  'user-service+tracing-1': '#6f8fb8',
  'user-service+tracing-off': '#9db8d6',
  ecosystem: '#8e6bb0',
  'pg-raw': '#4b8e9e',
  'node-raw': '#5a9e4b',
  go: '#c97b2a',
};
const WIDTH = 960;
const LABEL_WIDTH = 250;
const BAR_AREA = 420;
const BAR_HEIGHT = 18;
const BAR_GAP = 6;

export function escapeXml(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );
}

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${x}" y="${y}"${attrs ? ` ${attrs}` : ''}>${escapeXml(content)}</text>`;
}

/** Horizontal req/s bars, one section per scenario, each bar scaled to the fastest contender of its section. */
export function renderSvg(
  results: Pick<BenchResults, 'date' | 'scenarios'> & { pod?: { rows: readonly PodRow[] } | null },
  budgets: readonly BudgetLine[] = [],
): string {
  const parts: string[] = [];
  let y = 30;
  parts.push(
    text(
      20,
      y,
      `user-service benchmark: req/s (P99 ms), ${results.date}`,
      'font-size="16" font-weight="bold"',
    ),
  );
  y += 14;
  const pod = results.pod?.rows ?? [];
  for (const scenario of SCENARIOS) {
    const rows = pod.filter((r) => r.scenario === scenario);
    if (rows.length === 0) continue;
    y += 26;
    parts.push(text(20, y, `${scenario}, pod limits (warm)`, 'font-size="14" font-weight="bold"'));
    y += 8;
    const max = Math.max(...rows.map((r) => r.warm.req_per_s), 1);
    for (const row of rows) {
      parts.push(podBar(row, y, max));
      y += BAR_HEIGHT + BAR_GAP;
    }
  }
  for (const scenario of SCENARIOS) {
    const rows = results.scenarios.filter((r) => r.name === scenario);
    if (rows.length === 0) continue;
    y += 26;
    parts.push(text(20, y, scenario, 'font-size="14" font-weight="bold"'));
    y += 8;
    const max = Math.max(...rows.map((r) => r.req_per_s), 1);
    for (const row of rows) {
      parts.push(bar(row, y, max));
      y += BAR_HEIGHT + BAR_GAP;
    }
  }
  if (budgets.length > 0) {
    y += 20;
    parts.push(text(20, y, 'budgets', 'font-size="14" font-weight="bold"'));
    for (const line of budgets) {
      y += 18;
      const colour = line.pass ? '#2e7d32' : '#c62828';
      const margin = line.margin ? ` (${line.margin})` : '';
      parts.push(
        text(
          20,
          y,
          `${line.pass ? 'PASS' : 'FAIL'}  ${line.budget}: ${line.figure}${margin}`,
          `fill="${colour}"`,
        ),
      );
    }
  }
  y += 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${y}" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

function bar(row: ScenarioRow, y: number, max: number): string {
  const width = Math.max(1, Math.round((row.req_per_s / max) * BAR_AREA));
  const label = row.contender.startsWith('user-service')
    ? `${row.contender} · ${row.storage}`
    : `${row.contender} (map)`;
  const ratio = row.ratio_vs_node === null ? '' : `, ${row.ratio_vs_node.toFixed(2)}x node`;
  return [
    text(20, y + 13, label),
    `<rect x="${LABEL_WIDTH}" y="${y}" width="${width}" height="${BAR_HEIGHT}" fill="${COLOURS[row.contender] ?? '#888'}"/>`,
    text(LABEL_WIDTH + width + 6, y + 13, `${row.req_per_s} req/s (P99 ${row.p99_ms} ms${ratio})`),
  ].join('');
}

function podBar(row: PodRow, y: number, max: number): string {
  const width = Math.max(1, Math.round((row.warm.req_per_s / max) * BAR_AREA));
  const ratio = row.ratio_vs_node === null ? '' : `, ${row.ratio_vs_node.toFixed(2)}x node`;
  return [
    text(20, y + 13, contenderLabel(row.contender, row.storage)),
    `<rect x="${LABEL_WIDTH}" y="${y}" width="${width}" height="${BAR_HEIGHT}" fill="${COLOURS[row.contender] ?? '#888'}"/>`,
    text(LABEL_WIDTH + width + 6, y + 13, `${row.warm.req_per_s} req/s (P99 ${row.warm.p99_ms} ms${ratio})`),
  ].join('');
}
