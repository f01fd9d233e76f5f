import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import {
  counter,
  createMetricsRegistry,
  gauge,
  histogram,
} from '../../src/platform/metrics/metrics-registry.ts';
import { parseMetrics, samplesOf } from '../support/metrics-text.ts';

describe('metrics registry', () => {
  it('gives back the metric already registered under a name, of the same kind and labels', () => {
    const registry = new Registry();
    const first = counter(registry, 'jobs_total', 'Jobs done.', ['queue']);
    assert.equal(counter(registry, 'jobs_total', 'Jobs done.', ['queue']), first);
    const level = gauge(registry, 'queue_depth', 'Jobs waiting.', ['queue']);
    assert.equal(gauge(registry, 'queue_depth', 'Jobs waiting.', ['queue']), level);
    const timing = histogram(registry, 'job_seconds', 'Job duration.', ['queue'], [0.1, 1]);
    assert.equal(histogram(registry, 'job_seconds', 'Job duration.', ['queue'], [0.1, 1]), timing);
  });

  it('refuses the same name as another kind, naming the metric and both kinds', () => {
    const registry = new Registry();
    counter(registry, 'jobs_total', 'Jobs done.', ['queue']);
    assert.throws(
      () => gauge(registry, 'jobs_total', 'Jobs done.', ['queue']),
      /metric jobs_total is already registered as a counter; it cannot also be a gauge/,
    );
    histogram(registry, 'job_seconds', 'Job duration.', [], [1]);
    assert.throws(
      () => counter(registry, 'job_seconds', 'Job duration.', []),
      /metric job_seconds is already registered as a histogram; it cannot also be a counter/,
    );
  });

  it('refuses the same name with other labels or other buckets, naming the metric', () => {
    const registry = new Registry();
    counter(registry, 'jobs_total', 'Jobs done.', ['queue']);
    assert.throws(
      () => counter(registry, 'jobs_total', 'Jobs done.', ['queue', 'outcome']),
      /metric jobs_total is already registered with labels \[queue\]; it cannot also have \[queue, outcome\]/,
    );
    histogram(registry, 'job_seconds', 'Job duration.', [], [0.1, 1]);
    assert.throws(
      () => histogram(registry, 'job_seconds', 'Job duration.', [], [0.5, 1]),
      /metric job_seconds is already registered with buckets \[0.1, 1\]; it cannot also have \[0.5, 1\]/,
    );
  });

  it('refuses a second scrape-time reader of one gauge', () => {
    const registry = new Registry();
    gauge(registry, 'open_files', 'Open files.', [], function collect() {
      this.set(1);
    });
    assert.throws(
      () =>
        gauge(registry, 'open_files', 'Open files.', [], function collect() {
          this.set(2);
        }),
      /metric open_files is already registered and read at scrape time by its first owner/,
    );
  });

  it('keeps each service registry apart, with its identity on every series and the runtime metrics', async () => {
    const users = createMetricsRegistry({ service: 'user-service', version: '1.2.3', canary: true });
    const relay = createMetricsRegistry({ service: 'alert-relay', version: '1.2.3', canary: false });
    counter(users, 'jobs_total', 'Jobs done.', ['queue']).inc({ queue: 'mail' });
    counter(relay, 'jobs_total', 'Jobs done.', ['queue']).inc({ queue: 'sms' }, 2);

    const usersSamples = parseMetrics(await users.metrics());
    assert.deepEqual(samplesOf(usersSamples, 'jobs_total'), [
      {
        name: 'jobs_total',
        labels: { queue: 'mail', service: 'user-service', version: '1.2.3', canary: 'true' },
        value: 1,
      },
    ]);
    assert.equal(samplesOf(usersSamples, 'nodejs_eventloop_lag_seconds').length, 1);
    const relaySamples = parseMetrics(await relay.metrics());
    assert.deepEqual(
      samplesOf(relaySamples, 'jobs_total').map((sample) => [sample.labels.queue, sample.value]),
      [['sms', 2]],
    );
  });
});
