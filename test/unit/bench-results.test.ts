import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateBudgets, formatBudgets } from '../../bench/lib/budgets.ts';
import { parseWrkOutput, wrkScript } from '../../bench/lib/load.ts';
import { parseOptions } from '../../bench/lib/options.ts';
import { aggregate, type Measurement, ROW_KEYS } from '../../bench/lib/results.ts';
import { median, ratio } from '../../bench/lib/stats.ts';
import { renderSvg } from '../../bench/lib/svg.ts';
import { formatMarkdownTable, formatTable } from '../../bench/lib/table.ts';

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
