import { type ConstantRateRow, contenderLabel, type PodRow, type ScenarioRow } from './results.ts';

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

const POD_HEADERS = [
  'contender',
  'scenario',
  'ready ms (listening)',
  'cold req/s',
  'cold P50',
  'cold P99',
  'warm req/s',
  'warm P50',
  'warm P99',
  'vs node',
  'peak MiB',
  'OOM',
  '5xx',
  '503 after ready',
];

/** Ready time, with the time to listening when a warm-up (or anything else) came between them. */
export function readyCell(row: PodRow): string {
  const ready = Math.round(row.ready_ms);
  return row.listen_ms === undefined || ready - Math.round(row.listen_ms) < 50
    ? String(ready)
    : `${ready} (${Math.round(row.listen_ms)})`;
}

function podCells(row: PodRow): string[] {
  const n = (v: number | null) => (v === null ? 'n/a' : String(v));
  return [
    contenderLabel(row.contender, row.storage),
    row.scenario,
    readyCell(row),
    String(row.cold.req_per_s),
    row.cold.p50_ms.toFixed(2),
    row.cold.p99_ms.toFixed(2),
    String(row.warm.req_per_s),
    row.warm.p50_ms.toFixed(2),
    row.warm.p99_ms.toFixed(2),
    row.ratio_vs_node === null ? 'n/a' : `${row.ratio_vs_node.toFixed(2)}x`,
    n(row.peak_memory_mb),
    n(row.oom_kills),
    String(row.cold.status_5xx + row.warm.status_5xx),
    String(row.post_503_after_ready),
  ];
}

const RATE_HEADERS = [
  'scenario',
  'contender',
  'offered req/s',
  'P50 ms',
  'P99 ms',
  'P99.9 ms',
  'failed',
  'sender lag P99',
];

function rateCells(row: ConstantRateRow): string[] {
  return [
    row.name,
    contenderLabel(row.contender, row.storage),
    String(row.rate),
    row.p50_ms.toFixed(2),
    row.p99_ms.toFixed(2),
    row.p999_ms.toFixed(2),
    String(row.failed),
    `${row.generator_lag_p99_ms} ms`,
  ];
}

function markdown(headers: readonly string[], body: readonly string[][], textColumns: number): string {
  const head = `| ${headers.join(' | ')} |`;
  const rule = `|${headers.map((_, i) => (i < textColumns ? '---' : '---:')).join('|')}|`;
  return [head, rule, ...body.map((c) => `| ${c.join(' | ')} |`)].join('\n');
}

function fixed(headers: readonly string[], body: readonly string[][], textColumns: number): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) =>
    c.map((v, i) => (i < textColumns ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The pod-mode runs: one line per contender, cold and warm side by side. */
export function formatPodTable(rows: readonly PodRow[], markdownOutput = false): string {
  const body = rows.map(podCells);
  return markdownOutput ? markdown(POD_HEADERS, body, 2) : fixed(POD_HEADERS, body, 2);
}

/** The constant-rate (coordinated-omission corrected) runs. */
export function formatConstantRateTable(rows: readonly ConstantRateRow[], markdownOutput = false): string {
  const body = rows.map(rateCells);
  return markdownOutput ? markdown(RATE_HEADERS, body, 2) : fixed(RATE_HEADERS, body, 2);
}
