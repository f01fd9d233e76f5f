import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { seriesCounter, seriesHistogram } from '../../src/platform/metrics/metrics-registry.ts';

const BUCKETS = [0.005, 0.01, 0.025, 0.1, 0.8, 1];
const LABELS = ['method', 'route', 'status_code', 'canary'] as const;
type Label = (typeof LABELS)[number];

const registryWithDefaults = () => {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'svc', version: '1.2.3', canary: 'false' });
  return registry;
};

/** The same observations into prom-client's metrics and into the series metrics, each in a registry of its own. */
function bothWays(observations: [Record<Label, string>, number][]) {
  const reference = registryWithDefaults();
  const histogram = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Duration.',
    labelNames: LABELS,
    buckets: BUCKETS,
    registers: [reference],
  });
  const counter = new Counter({
    name: 'http_requests_total',
    help: 'Requests.',
    labelNames: LABELS,
    registers: [reference],
  });
  const ours = registryWithDefaults();
  const seriesH = seriesHistogram(ours, 'http_request_duration_seconds', 'Duration.', LABELS, BUCKETS);
  const seriesC = seriesCounter(ours, 'http_requests_total', 'Requests.', LABELS);
  for (const [labels, value] of observations) {
    histogram.labels(labels).observe(value);
    counter.labels(labels).inc();
    seriesH.series(labels).observe(value);
    seriesC.series(labels).inc();
  }
  return { reference, ours, seriesH, seriesC };
}

const GET = { method: 'GET', route: '/users/:id', status_code: '200', canary: 'false' };
const POST = { route: '/users', method: 'POST', canary: 'true', status_code: '201' };

describe('series metrics', () => {
  it('expose the same Prometheus text and JSON as prom-client for the same observations', async () => {
    const { reference, ours } = bothWays([
      [GET, 0.001],
      [GET, 0.005], // on a bound: counted in that bucket
      [GET, 0.0051],
      [POST, 0.3],
      [GET, 2], // above every bound: only in +Inf
      [{ ...GET, status_code: '404' }, 0.02],
      [POST, 0.8],
    ]);
    const text = await ours.metrics();
    assert.equal(text, await reference.metrics());
    assert.match(
      text,
      /^http_request_duration_seconds_bucket\{le="0\.005",service="svc",version="1\.2\.3",method="GET",route="\/users\/:id",status_code="200",canary="false"\} 2$/m,
    );
    assert.match(
      text,
      /^http_requests_total\{route="\/users",method="POST",canary="true",status_code="201",service="svc",version="1\.2\.3"\} 2$/m,
    );
    // Through JSON, as a JSON endpoint would give them: prom-client leaves some fields undefined rather than out.
    const asJson = async (registry: Registry) =>
      JSON.parse(JSON.stringify(await registry.getMetricsAsJSON()));
    assert.deepEqual(await asJson(ours), await asJson(reference));
  });

  it('find one series per label set whatever the order its labels were given in', () => {
    const { seriesH } = bothWays([]);
    const reordered = { canary: 'false', status_code: '200', route: '/users/:id', method: 'GET' };
    assert.equal(seriesH.series(GET), seriesH.series(reordered));
    assert.notEqual(seriesH.series(GET), seriesH.series({ ...GET, status_code: '500' }));
  });

  it('refuse unknown or missing labels and values that are not finite, as prom-client does', () => {
    const { seriesH, seriesC } = bothWays([]);
    assert.throws(() => seriesH.series({ ...GET, path: '/x' } as never), /has no label path/);
    assert.throws(() => seriesC.series({ method: 'GET' } as never), /label route has no value/);
    assert.throws(() => seriesH.series(GET).observe(Number.NaN), /cannot observe NaN/);
    assert.throws(() => seriesC.series(GET).inc(-1), /cannot add -1/);
  });

  it('zero their series on reset and keep counting into the series their callers hold', async () => {
    const { ours, seriesH, seriesC } = bothWays([[GET, 0.02]]);
    const held = seriesH.series(GET);
    ours.resetMetrics();
    assert.match(await ours.metrics(), /^http_request_duration_seconds_count\{[^}]*\} 0$/m);
    held.observe(0.02);
    seriesC.series(GET).inc();
    const text = await ours.metrics();
    assert.match(text, /^http_request_duration_seconds_count\{[^}]*\} 1$/m);
    assert.match(text, /^http_requests_total\{[^}]*\} 1$/m);
  });

  it('are shared by name in one registry and refuse a second definition that differs', () => {
    const registry = new Registry();
    const first = seriesHistogram(registry, 'latency_seconds', 'Latency.', ['route'], [0.1, 1]);
    assert.equal(seriesHistogram(registry, 'latency_seconds', 'Latency.', ['route'], [0.1, 1]), first);
    assert.throws(
      () => seriesHistogram(registry, 'latency_seconds', 'Latency.', ['route'], [0.5]),
      /buckets/,
    );
    assert.throws(() => seriesCounter(registry, 'latency_seconds', 'Latency.', ['route']), /histogram/);
    new Counter({ name: 'plain_total', help: 'Plain.', registers: [registry] });
    assert.throws(() => seriesCounter(registry, 'plain_total', 'Plain.', []), /without held series/);
  });
});
