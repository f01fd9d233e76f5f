import type { ScenarioRow } from './results.ts';

const HEADERS = [
  'scenario',
  'storage',
  'contender',
  'req/s',
  'P50 ms',
  'P99 ms',
  'RSS MB',
  'vs node',
  'vs go',
];

function cells(row: ScenarioRow): string[] {
  const x = (value: number | null) => (value === null ? 'n/a' : `${value.toFixed(2)}x`);
  return [
    row.name,
    row.storage,
    row.contender,
    String(row.req_per_s),
    row.p50_ms.toFixed(2),
    row.p99_ms.toFixed(2),
    row.rss_mb.toFixed(1),
    x(row.ratio_vs_node),
    x(row.ratio_vs_go),
  ];
}

/** A fixed-width console table; numbers right-aligned. */
export function formatTable(rows: readonly ScenarioRow[]): string {
  const body = rows.map(cells);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...body.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c.map((v, i) => (i < 3 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  return [line(HEADERS), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The same rows as a Markdown table for the README. */
export function formatMarkdownTable(rows: readonly ScenarioRow[]): string {
  const head = `| ${HEADERS.join(' | ')} |`;
  const rule = `|${HEADERS.map((_, i) => (i < 3 ? '---' : '---:')).join('|')}|`;
  return [head, rule, ...rows.map((r) => `| ${cells(r).join(' | ')} |`)].join('\n');
}
