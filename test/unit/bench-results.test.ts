import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { evaluateBudgets, formatBudgets } from '../../bench/lib/budgets.ts';
import { formatCostsMarkdown } from '../../bench/lib/costs.ts';
import { parseWrkOutput, wrkScript } from '../../bench/lib/load.ts';
import { openLoop, takeResponses } from '../../bench/lib/open-loop.ts';
import { parseOptions } from '../../bench/lib/options.ts';
import {
  budgetsOf,
  type FullResults,
  renderMarkdown,
  renderReadmeBlock,
  withReadmeBlock,
} from '../../bench/lib/report-files.ts';
import { aggregate, type Measurement, type PodRow, ROW_KEYS } from '../../bench/lib/results.ts';
import { median, ratio } from '../../bench/lib/stats.ts';
import { renderSvg } from '../../bench/lib/svg.ts';
import { formatMarkdownTable, formatPodTable, formatTable } from '../../bench/lib/table.ts';

function run(partial: Partial<Measurement>): Measurement {
  return {
    scenario: 'get-by-id',
    storage: 'memory',
    contender: 'user-service',
    round: 1,
    req_per_s: 1000,
    p50_ms: 1,
    p99_ms: 5,
    rss_mb: 50,
    failed: 0,
    requests: 10_000,
    ...partial,
  };
}

const runs: Measurement[] = [
  run({ round: 1, req_per_s: 8000, p99_ms: 8, rss_mb: 70 }),
  run({ round: 2, req_per_s: 9000, p99_ms: 9, rss_mb: 90 }),
  run({ round: 3, req_per_s: 7000, p99_ms: 30, rss_mb: 80 }),
  ...[10_000, 11_000, 9_000].map((req_per_s, i) => run({ contender: 'node-raw', round: i + 1, req_per_s })),
  ...[20_000, 20_000, 20_000].map((req_per_s, i) => run({ contender: 'go', round: i + 1, req_per_s })),
  run({ storage: 'postgres', req_per_s: 2500, p99_ms: 12, rss_mb: 120 }),
];

describe('benchmark results', () => {
  it('takes medians over rounds and computes ratios against the baselines of the same scenario', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
    assert.equal(ratio(8000, 10_000), 0.8);
    assert.equal(ratio(1, 0), null);
    assert.equal(ratio(1, undefined), null);

    const rows = aggregate(runs);
    const service = rows.find((r) => r.contender === 'user-service' && r.storage === 'memory')!;
    assert.equal(service.req_per_s, 8000);
    assert.equal(service.p99_ms, 9);
    assert.equal(service.rss_mb, 90, 'RSS is the peak over rounds');
    assert.equal(service.ratio_vs_node, 0.8);
    assert.equal(service.ratio_vs_go, 0.4);
    const node = rows.find((r) => r.contender === 'node-raw')!;
    assert.equal(node.ratio_vs_node, 1);
    assert.equal(node.ratio_vs_go, 0.5);
    assert.equal(rows.find((r) => r.storage === 'postgres')!.ratio_vs_node, 0.25);
  });

  it('gives every scenario entry exactly the documented keys', () => {
    for (const row of aggregate(runs)) assert.deepEqual(Object.keys(row), [...ROW_KEYS]);
    assert.deepEqual(
      [...ROW_KEYS],
      [
        'name',
        'storage',
        'contender',
        'req_per_s',
        'p50_ms',
        'p99_ms',
        'rss_mb',
        'ratio_vs_node',
        'ratio_vs_go',
      ],
    );
  });

  it('prints PASS and FAIL lines for each budget', () => {
    const lines = evaluateBudgets({
      rows: aggregate(runs),
      startupMs: { memory: 350, postgres: 450 },
      connections: 50,
    });
    const text = formatBudgets(lines);
    assert.match(text, /^PASS {2}GET by id .*0\.80x \(8000 vs 10000 req\/s\)$/m);
    assert.match(text, /^PASS {2}P99 <= 10 ms at 50 connections: get-by-id on memory: 9 ms$/m);
    assert.match(text, /^FAIL {2}P99 <= 10 ms at 50 connections: get-by-id on postgres: 12 ms$/m);
    assert.match(text, /^PASS {2}start to ready <= 400 ms: memory: 350 ms$/m);
    assert.match(text, /^FAIL {2}start to ready <= 400 ms: postgres: 450 ms$/m);
    assert.match(text, /^PASS {2}RSS under load \(GET scenarios\) <= 100 MB: memory: 90 MB peak$/m);
    assert.match(text, /^FAIL {2}RSS under load \(GET scenarios\) <= 100 MB: postgres: 120 MB peak$/m);
  });

  it('renders a well-formed SVG with one bar per row and escaped text', () => {
    const rows = aggregate(runs);
    const svg = renderSvg({ date: '2026-01-01T00:00:00Z <&>', scenarios: rows }, [
      { budget: 'b', figure: 'f', pass: false },
    ]);
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\n$/);
    assert.equal((svg.match(/<rect x=/g) ?? []).length, rows.length);
    assert.ok(svg.includes('&lt;&amp;&gt;'));
    assert.ok(!svg.includes('<&>'));
    assert.ok(svg.includes('FAIL  b: f'));
    for (const width of svg.matchAll(/ width="(\d+)" height="18"/g)) assert.ok(Number(width[1]) >= 1);
  });

  it('formats console and Markdown tables with a line per row', () => {
    const rows = aggregate(runs);
    assert.equal(formatTable(rows).split('\n').length, rows.length + 2);
    const markdown = formatMarkdownTable(rows).split('\n');
    assert.equal(markdown.length, rows.length + 2);
    assert.match(markdown[2]!, /^\| get-by-id \| memory \| user-service \| 8000 \|/);
  });
});

describe('benchmark load generation', () => {
  it('writes wrk scripts that vary ids and keep POSTed emails unique', () => {
    const get = wrkScript({ scenario: 'get-by-id', ids: ['a', 'b'], emailPrefix: 'x' });
    assert.match(get, /local ids = \{"a","b"\}/);
    assert.match(get, /"\/users\/" \.\. ids\[/);
    assert.match(wrkScript({ scenario: 'list', ids: [], emailPrefix: 'x' }), /"\/users\?limit=20"/);
    const post = wrkScript({ scenario: 'post', ids: [], emailPrefix: 'b1m' });
    assert.match(post, /wrk\.format\("POST", "\/users", headers/);
    assert.match(post, /b1m' \.\. n \.\. '@bench\.example/);
    assert.match(post, /\["Content-Type"\] = "application\/json"/);
  });

  it('parses the result line of the wrk done() hook', () => {
    const out =
      'Running 2s test\nBENCH_RESULT {"requests":20000,"duration_us":2000000,"p50_us":1500,"p99_us":9000,"failed":3}\n';
    assert.deepEqual(parseWrkOutput(out), {
      requests: 20000,
      req_per_s: 10000,
      p50_ms: 1.5,
      p99_ms: 9,
      failed: 3,
    });
    assert.throws(() => parseWrkOutput('nothing'), /no result line/);
  });

  it('reads --duration, --rounds and --only', () => {
    const options = parseOptions(['--duration', '5', '--rounds', '3', '--only', 'get-by-id']);
    assert.equal(options.durationS, 5);
    assert.equal(options.rounds, 3);
    assert.deepEqual(options.scenarios, ['get-by-id']);
    assert.deepEqual(options.storages, ['memory', 'pglite', 'postgres']);
    assert.throws(() => parseOptions(['--only', 'nope']), /unknown scenario: nope/);
    assert.throws(() => parseOptions(['--sample-ratio', '2']), /between 0 and 1/);
  });
});

describe('benchmark targets, pod mode and constant rate', () => {
  const figures = (req_per_s: number, p99_ms = 50) => ({
    req_per_s,
    p50_ms: 5,
    p99_ms,
    failed: 0,
    status_5xx: 0,
    status_503: 0,
  });
  const podRow = (contender: PodRow['contender'], warm: number, extra: Partial<PodRow> = {}): PodRow => ({
    contender,
    storage: 'memory',
    scenario: 'get-by-id',
    ready_ms: 700,
    cold: figures(warm * 0.8),
    warm: figures(warm),
    post_503_after_ready: 0,
    peak_memory_mb: 60,
    oom_kills: 0,
    throttled_ms: 100,
    ratio_vs_node: null,
    ...extra,
  });
  const pod = {
    rows: [
      podRow('user-service', 700, { post_503_after_ready: 3, ready_ms: 1500 }),
      podRow('user-service+tracing-off', 1000),
      podRow('user-service+tracing-1', 400),
      podRow('node-raw', 1000),
    ],
    soak: {
      contender: 'user-service' as const,
      storage: 'memory' as const,
      scenario: 'get-by-id' as const,
      duration_s: 60,
      run: figures(700, 150),
      requests: 42_000,
      peak_memory_mb: 90,
      oom_kills: 1,
      exited: false,
    },
    soakTargetS: 300,
  };

  it('judges the pod-mode targets and says by how much a failing one misses', () => {
    const text = formatBudgets(evaluateBudgets({ rows: [], startupMs: {}, connections: 50, pod }));
    assert.match(
      text,
      /^PASS {2}pod: GET by id >= 0\.60x .*: 0\.70x \(700 vs 1000 req\/s\); goal 0\.80x not yet met$/m,
    );
    assert.match(
      text,
      /^FAIL {2}pod: tracing at production sampling costs <= 15% .*: 30% \(700 vs 1000 req\/s\)\n {6}over by 15 points/m,
    );
    assert.match(text, /^PASS {2}pod: tracing ratio 1 >= 0\.30x raw node:http: 0\.40x/m);
    assert.match(
      text,
      /^FAIL {2}pod: start to ready <= 1000 ms under the CPU limit: memory: 1500 ms\n {6}over by 500 ms \(50%\)$/m,
    );
    assert.match(
      text,
      /^FAIL {2}pod: no 503 to POST \/users in the 5 s after ready: memory: 3 503s\n {6}over by 3 503s$/m,
    );
    assert.match(text, /^PASS {2}pod: P99 at saturation <= 200 ms: get-by-id on memory/m);
    assert.match(
      text,
      /^FAIL {2}pod: 0 OOM kills over a 60 s saturation soak \(a 60 s soak; --soak runs 300 s\)/m,
    );
    assert.match(text, /^PASS {2}pod: 0 failed requests over the soak: 0 failed of 42000$/m);
  });

  it('takes the ratio lines from side-by-side runs when there are any, and still shows the sequential ratio', () => {
    const pair = (a: string, b: string, aRate: number, bRate: number) => ({
      a,
      b,
      scenario: 'get-by-id' as const,
      a_req_per_s: aRate,
      b_req_per_s: bRate,
      ratio: Math.round((aRate / bRate) * 100) / 100,
    });
    const text = formatBudgets(
      evaluateBudgets({
        rows: [],
        startupMs: {},
        connections: 50,
        pod: {
          ...pod,
          pairs: [
            pair('user-service', 'node-raw', 850, 1000),
            pair('user-service', 'user-service+tracing-off', 900, 1000),
            pair('user-service+tracing-1', 'node-raw', 200, 1000),
          ],
        },
      }),
    );
    assert.match(
      text,
      /^PASS {2}pod: GET by id >= 0\.60x .*: 0\.85x \(850 vs 1000 req\/s, both pods at once; run one after the other 0\.70x\)$/m,
    );
    assert.match(
      text,
      /^PASS {2}pod: tracing at production sampling costs <= 15% .*: 10% \(900 vs 1000 req\/s, both pods at once; run one after the other 0\.70x\)$/m,
    );
    assert.match(
      text,
      /^FAIL {2}pod: tracing ratio 1 >= 0\.30x raw node:http: 0\.20x \(200 vs 1000 req\/s, both pods/m,
    );
  });

  it('judges POST on PostgreSQL against raw pg and PGlite against its own P99 target', () => {
    const rows = aggregate([
      run({ scenario: 'post', storage: 'postgres', req_per_s: 600, p99_ms: 40 }),
      run({ scenario: 'post', storage: 'postgres', contender: 'pg-raw', req_per_s: 1000 }),
      run({ scenario: 'post', storage: 'pglite', p99_ms: 80 }),
      run({ scenario: 'list', storage: 'pglite', p99_ms: 500 }),
    ]);
    const text = formatBudgets(
      evaluateBudgets({ rows, startupMs: { pglite: 900 }, connections: 50, freshCloneMs: 2500 }),
    );
    assert.match(
      text,
      /^FAIL {2}POST on PostgreSQL >= 0\.70x the raw pg contender req\/s: 0\.60x \(600 vs 1000 req\/s\)\n {6}short by 0\.10x \(14% below\)$/m,
    );
    assert.match(text, /^PASS {2}P99 <= 100 ms at 50 connections: post on pglite: 80 ms$/m);
    assert.doesNotMatch(text, /list on pglite/);
    assert.doesNotMatch(text, /start to ready <= 400 ms: pglite/);
    assert.match(text, /^PASS {2}first npm start of a fresh clone .* <= 3000 ms: 2500 ms$/m);
  });

  it('puts the pod-mode table first in the Markdown page, with the command that reproduces it', () => {
    const results = {
      machine: {},
      date: '2026-01-01T00:00:00Z',
      command: 'npm run bench -- --quick',
      scenarios: aggregate(runs),
      pod: {
        limits: '0.2 CPU',
        mechanism: 'cgroup-v1',
        command: 'npm run bench -- --pod',
        soak_target_s: 300,
        rows: pod.rows,
        soak: pod.soak,
      },
    };
    const markdown = renderMarkdown(results, budgetsOf(results));
    const podAt = markdown.indexOf('| contender | scenario | ready ms (listening) |');
    assert.ok(podAt > 0 && podAt < markdown.indexOf('| scenario | storage | contender |'));
    assert.match(markdown, /Reproduce: `npm run bench -- --pod`/);
    assert.match(markdown, /^\| user-service\/memory \| get-by-id \| 1500 \| 560 \|/m);
    assert.match(markdown, /^- FAIL pod: start to ready .*: 1500 ms \(over by 500 ms \(50%\)\)$/m);
    assert.match(formatPodTable(pod.rows), /^user-service\+tracing-off\/memory/m);
    const svg = renderSvg(results, []);
    assert.equal((svg.match(/<rect x=/g) ?? []).length, results.scenarios.length + pod.rows.length);
  });

  it('counts 5xx and 503 answers in wrk scripts only when asked', () => {
    const counting = wrkScript({ scenario: 'get-by-id', ids: ['a'], emailPrefix: 'x', countStatuses: true });
    assert.match(counting, /response = function\(status, headers, body\)/);
    assert.match(counting, /t:get\("s503"\)/);
    assert.doesNotMatch(
      wrkScript({ scenario: 'get-by-id', ids: ['a'], emailPrefix: 'x' }),
      /response = function/,
    );
    const out =
      'BENCH_RESULT {"requests":10,"duration_us":1000000,"p50_us":1000,"p99_us":2000,"failed":2,"s5xx":2,"s503":1}\n';
    assert.deepEqual(parseWrkOutput(out), {
      requests: 10,
      req_per_s: 10,
      p50_ms: 1,
      p99_ms: 2,
      failed: 2,
      status_5xx: 2,
      status_503: 1,
    });
  });

  it('reads the modes and --quick', () => {
    assert.equal(parseOptions([]).mode, 'full');
    assert.equal(parseOptions(['--pod']).mode, 'pod');
    assert.equal(parseOptions(['--unconstrained']).mode, 'unconstrained');
    assert.equal(parseOptions(['--costs']).mode, 'costs');
    assert.equal(
      parseOptions(['--costs']).outDir,
      undefined,
      'a costs-only run leaves the committed results alone',
    );
    assert.equal(parseOptions(['--costs', '--out', '/tmp/x']).outDir, '/tmp/x');
    assert.equal(parseOptions([]).outDir, 'bench/results');
    assert.throws(() => parseOptions(['--pod', '--unconstrained']), /exclude each other/);
    assert.throws(() => parseOptions(['--costs', '--pod']), /exclude each other/);
    const quick = parseOptions(['--quick']);
    assert.ok(quick.durationS < parseOptions([]).durationS && quick.podColdS < parseOptions([]).podColdS);
    assert.equal(parseOptions(['--soak']).soakS, 300);
    assert.equal(parseOptions([]).sampleRatio, undefined, 'the service default unless given');
  });
});

describe("where a request's CPU goes", () => {
  const rows = [
    { part: 'tracing-unsampled', what: 'tracing, request not sampled', us: 1.25 },
    { part: 'tracing-sampled', what: 'tracing, request sampled', us: 11.4, export_us: 13.6 },
  ];

  it('gives each part its share of a raw node:http request when that is known', () => {
    const table = formatCostsMarkdown(rows, 25);
    assert.match(table, /share of a raw node:http request \(25 µs\)/);
    assert.match(table, /\| tracing, request not sampled \| 1\.25 \| 5 % \|/);
    assert.match(table, /\| tracing, request sampled \| 11\.4 \| 46 % \|/);
    assert.match(table, /its span's export .*\| 13\.6 \| 54 % \|/, 'the export is a row of its own');
  });

  it('leaves the share out without a raw node:http figure', () => {
    const table = formatCostsMarkdown(rows, undefined);
    assert.doesNotMatch(table, /share|%/);
    assert.equal(table.split('\n').length, 2 + 3);
  });
});

describe('open-loop generator', () => {
  it('splits pipelined and partial responses', () => {
    const two = Buffer.from(
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\nHTTP/1.1 201',
    );
    const { statuses, rest } = takeResponses(two);
    assert.deepEqual(statuses, [200, 503]);
    assert.equal(rest.toString(), 'HTTP/1.1 201');
  });

  it('measures from the scheduled send time, so one stall shows in every request it held up', async () => {
    let answered = 0;
    const server = createServer((_req, res) => {
      answered += 1;
      const reply = () => res.writeHead(200, { 'content-length': '2' }).end('{}');
      if (answered === 1) setTimeout(reply, 800);
      else reply();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const result = await openLoop({
        url: `http://127.0.0.1:${port}`,
        rate: 50,
        durationS: 1,
        connections: 1,
        spec: { scenario: 'get-by-id', ids: ['a'], emailPrefix: 'x' },
      });
      assert.equal(result.completed, 50);
      assert.equal(result.failed, 0);
      // The first answer takes 800 ms; the 40 requests due meanwhile queue behind it on the one connection. A
      // closed-loop client would time them from when they were finally sent (P50 ~ 0); here the median request
      // is one of them, about 300 ms late.
      assert.ok(result.p50_ms >= 100, `P50 ${result.p50_ms} ms`);
      assert.ok(result.max_ms >= 700, `max ${result.max_ms} ms`);
    } finally {
      server.close();
    }
  });
});

describe('the README performance block', () => {
  const root = new URL('../../', import.meta.url);

  it('is the pod-mode rendering of the committed bench/results/latest.json', async () => {
    const results = JSON.parse(
      await readFile(new URL('bench/results/latest.json', root), 'utf8'),
    ) as FullResults;
    const readme = await readFile(new URL('README.md', root), 'utf8');
    const expected = withReadmeBlock(readme, renderReadmeBlock(results, budgetsOf(results)));
    assert.equal(readme, expected, 'README figures differ from latest.json: run `node bench/report.ts`');
  });

  it('replaces only what sits between the markers, and refuses a README without them', () => {
    const readme = 'intro\n<!-- pod-bench:start -->\nold\n<!-- pod-bench:end -->\noutro\n';
    assert.equal(
      withReadmeBlock(readme, 'new'),
      'intro\n<!-- pod-bench:start -->\nnew\n<!-- pod-bench:end -->\noutro\n',
    );
    assert.throws(() => withReadmeBlock('no markers', 'new'), /pod-bench:start/);
  });
});
