import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ScenarioName } from './results.ts';

const run = promisify(execFile);

/** What one scenario sends: ids to read (round robin), and a prefix that keeps every POSTed email unique. */
export interface LoadSpec {
  scenario: ScenarioName;
  ids: readonly string[];
  emailPrefix: string;
  /** Count 5xx and 503 answers (a Lua call per response in wrk: for the CPU-limited runs, where it is cheap). */
  countStatuses?: boolean;
}

export interface LoadSettings {
  url: string;
  connections: number;
  durationS: number;
  /** Core the load generator is pinned to (taskset -c), when pinning is available. */
  cpu?: number;
  /** Directory for generated wrk scripts. */
  workDir: string;
}

export interface LoadResult {
  requests: number;
  req_per_s: number;
  p50_ms: number;
  p99_ms: number;
  /** Non-2xx responses plus socket errors and timeouts. */
  failed: number;
  /** With LoadSpec.countStatuses. */
  status_5xx?: number;
  status_503?: number;
}

export type LoadGenerator = (spec: LoadSpec, settings: LoadSettings) => Promise<LoadResult>;

const RESULT_MARK = 'BENCH_RESULT ';

/** The Lua script wrk runs for a scenario; its done() prints one JSON line the runner parses. */
export function wrkScript(spec: LoadSpec): string {
  const done = spec.countStatuses
    ? `
local threads = {}
setup = function(thread) table.insert(threads, thread) end
s5xx = 0
s503 = 0
response = function(status, headers, body)
  if status >= 500 then s5xx = s5xx + 1 end
  if status == 503 then s503 = s503 + 1 end
end
done = function(summary, latency, requests)
  local e = summary.errors
  local a, b = 0, 0
  for _, t in ipairs(threads) do a = a + t:get("s5xx"); b = b + t:get("s503") end
  io.write(string.format('${RESULT_MARK}{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"failed":%d,"s5xx":%d,"s503":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout, a, b))
end
`
    : `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('${RESULT_MARK}{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"failed":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout))
end
`;
  if (spec.scenario === 'get-by-id') {
    const ids = spec.ids.map((id) => `"${id}"`).join(',');
    return `local ids = {${ids}}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/users/" .. ids[(i % #ids) + 1])
end
${done}`;
  }
  if (spec.scenario === 'list') {
    return `request = function()
  return wrk.format("GET", "/users?limit=20")
end
${done}`;
  }
  return `local n = 0
local headers = { ["Content-Type"] = "application/json" }
request = function()
  n = n + 1
  return wrk.format("POST", "/users", headers, '{"name":"Bench User ' .. n .. '","email":"${spec.emailPrefix}' .. n .. '@bench.example"}')
end
${done}`;
}

export function parseWrkOutput(stdout: string): LoadResult {
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
  if (!line) throw new Error(`wrk printed no result line:\n${stdout}`);
  const raw = JSON.parse(line.slice(RESULT_MARK.length)) as {
    requests: number;
    duration_us: number;
    p50_us: number;
    p99_us: number;
    failed: number;
    s5xx?: number;
    s503?: number;
  };
  return {
    requests: raw.requests,
    req_per_s: raw.requests / (raw.duration_us / 1e6),
    p50_ms: raw.p50_us / 1000,
    p99_ms: raw.p99_us / 1000,
    failed: raw.failed,
    ...(raw.s5xx === undefined ? {} : { status_5xx: raw.s5xx, status_503: raw.s503 ?? 0 }),
  };
}

export const wrkGenerator: LoadGenerator = async (spec, settings) => {
  const script = join(settings.workDir, `${spec.scenario}-${spec.emailPrefix}.lua`);
  await writeFile(script, wrkScript(spec));
  const args = ['-t1', `-c${settings.connections}`, `-d${settings.durationS}s`, '-s', script, settings.url];
  const [file, argv] =
    settings.cpu === undefined ? ['wrk', args] : ['taskset', ['-c', String(settings.cpu), 'wrk', ...args]];
  const { stdout } = await run(file, argv, { timeout: (settings.durationS + 30) * 1000 });
  return parseWrkOutput(stdout);
};

interface AutocannonResult {
  requests: { total: number; average: number };
  latency: { p50: number; p99: number };
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}
interface AutocannonRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  requests: { setupRequest: (req: AutocannonRequest) => AutocannonRequest }[];
}) => Promise<AutocannonResult>;

/** In-process fallback when wrk is not installed; it shares the runner's core, so it saturates earlier than wrk. */
export const autocannonGenerator: LoadGenerator = async (spec, settings) => {
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  let n = 0;
  const setupRequest = (req: AutocannonRequest): AutocannonRequest => {
    n += 1;
    if (spec.scenario === 'get-by-id')
      return { ...req, method: 'GET', path: `/users/${spec.ids[n % spec.ids.length]}` };
    if (spec.scenario === 'list') return { ...req, method: 'GET', path: '/users?limit=20' };
    return {
      ...req,
      method: 'POST',
      path: '/users',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: `Bench User ${n}`, email: `${spec.emailPrefix}${n}@bench.example` }),
    };
  };
  const result = await autocannon({
    url: settings.url,
    connections: settings.connections,
    duration: settings.durationS,
    requests: [{ setupRequest }],
  });
  return {
    requests: result.requests.total,
    req_per_s: result.requests.total / result.duration,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    failed: result.non2xx + result.errors + result.timeouts,
  };
};
