import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** The parts bench/cost-probe.ts measures, each with what the table calls it. */
export const COST_PARTS = [
  ['log-context', 'request context without tracing (trace_id for log lines)'],
  ['tracing-unsampled', 'tracing, request not sampled (ids, context, close listener)'],
  ['tracing-sampled', 'tracing, request sampled: its span in the request (start, attributes, end)'],
  ['http-metrics', 'HTTP metrics (in flight, duration histogram, request counter)'],
  ['log-line', 'one `request completed` line (pino, JSON to /dev/null)'],
] as const;
export type CostPart = (typeof COST_PARTS)[number][0];

export interface CostRow {
  part: string;
  what: string;
  /** The part's own cost per request, µs: the part's loop minus the baseline loop. */
  us: number;
  /** tracing-sampled only: process CPU (every thread) to export its span to the sink, µs per span. */
  export_us?: number;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * Where a request's CPU goes, part by part: each part of the platform's request path measured in a process of
 * its own on the server core, against a baseline in the same process (bench/cost-probe.ts). In-process loops are
 * far steadier than whole-server runs on a shared machine, so these figures show what a change saves even when
 * req/s moves by more than that from run to run.
 */
export async function measureCosts(options: {
  root: string;
  node: string;
  otlpEndpoint: string;
  serverCpu: number | undefined;
  log: (line: string) => void;
}): Promise<CostRow[]> {
  const rows: CostRow[] = [];
  for (const [part, what] of COST_PARTS) {
    const probe = [join(options.root, 'bench/cost-probe.ts'), part, options.otlpEndpoint];
    const [command, args] =
      options.serverCpu === undefined
        ? [options.node, probe]
        : ['taskset', ['-c', String(options.serverCpu), options.node, ...probe]];
    const { stdout } = await exec(command, args, { cwd: options.root, timeout: 120_000 });
    const figures = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
      ns: number;
      baselineNs: number;
      exportNs?: number;
    };
    const row: CostRow = {
      part,
      what,
      us: round2(Math.max(0, figures.ns - figures.baselineNs) / 1000),
      ...(figures.exportNs === undefined ? {} : { export_us: round2(figures.exportNs / 1000) }),
    };
    options.log(
      `cost ${part}: ${row.us} µs${row.export_us === undefined ? '' : ` + export ${row.export_us} µs per span`}`,
    );
    rows.push(row);
  }
  return rows;
}

/** The costs as a Markdown table, with each part's share of a raw node:http request when that is known. */
export function formatCostsMarkdown(rows: readonly CostRow[], rawRequestUs: number | undefined): string {
  const share = (us: number) =>
    rawRequestUs === undefined ? '' : ` | ${Math.round((us / rawRequestUs) * 100)} %`;
  const header =
    rawRequestUs === undefined
      ? '| part | µs per request |\n|---|---:|'
      : `| part | µs per request | share of a raw node:http request (${round2(rawRequestUs)} µs) |\n|---|---:|---:|`;
  const lines = rows.flatMap((row) => {
    const own = `| ${row.what} | ${row.us}${share(row.us)} |`;
    return row.export_us === undefined
      ? [own]
      : [
          own,
          `| its span's export (transform, OTLP/HTTP JSON, GC; CPU of every thread) | ${row.export_us}${share(row.export_us)} |`,
        ];
  });
  return `${header}\n${lines.join('\n')}`;
}
