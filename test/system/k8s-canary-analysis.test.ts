import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { K8sObject } from '../../deploy/ci/kustomize.ts';
import type { FaultSettings } from '../../src/platform/http/fault-injection.ts';
import { type MeasurementPhase, measure } from '../support/argo-analysis.ts';
import { findObject, renderOverlay } from '../support/kubernetes-manifests.ts';
import { type PrometheusServer, startPrometheus } from '../support/prometheus-server.ts';
import { needs } from '../support/requirements.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

/**
 * The prod AnalysisTemplate, exactly as rendered, judged by a real Prometheus scraping the real service:
 * - only stable traffic: both measurements inconclusive (no data), so a quiet canary pauses instead of failing;
 * - healthy canary traffic (requests marked x-canary: true, as the VirtualService marks them): both successful;
 * - a canary with 30 % of requests 1 s slow and 20 % failing: both failed, which aborts the Rollout.
 */

interface AnalysisMetric {
  name: string;
  successCondition: string;
  failureCondition: string;
  provider: { prometheus: { query: string } };
}

const skip = needs('kubectl', 'prometheus');
const HEALTHY: FaultSettings = { FAULT_SLOW_RATIO: 0, FAULT_SLOW_MS: 1_000, FAULT_ERROR_RATIO: 0 };
const REQUESTS_PER_PHASE = 300;
const CONCURRENCY = 30;
/** Each client waits this long between requests, so a phase spans several 1 s scrapes: a counter that appeared
 * and stopped within one scrape would show no rate. */
const PACE_MS = 400;
const DEADLINE_MS = 30_000;

describe('canary analysis on a real Prometheus', { skip, timeout: 120_000 }, () => {
  let app: TestApp;
  let prometheus: PrometheusServer;
  let metrics: AnalysisMetric[];
  let faults: FaultSettings = HEALTHY;

  before(async () => {
    const objects: K8sObject[] = await renderOverlay('prod');
    metrics = findObject(objects, 'AnalysisTemplate').spec.metrics;
    app = await startTestApp('memory://', { faults: () => faults });
    prometheus = await startPrometheus({
      targets: [{ job: 'user-service', targets: [new URL(app.url).host] }],
    });
    await prometheus.waitForTargetsUp();
  });

  after(async () => {
    await prometheus?.stop();
    await app?.close();
  });

  /** Sends `count` GET /users requests, `concurrency` at a time; counts the answers by status. */
  async function load(count: number, headers: Record<string, string>): Promise<Map<number, number>> {
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < count) {
        next++;
        const response = await fetch(`${app.url}/users?limit=1`, { headers });
        await response.arrayBuffer();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        await delay(PACE_MS);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return statuses;
  }

  async function measureAll(): Promise<Record<string, { phase: MeasurementPhase; result: number[] }>> {
    const outcome: Record<string, { phase: MeasurementPhase; result: number[] }> = {};
    for (const metric of metrics) {
      const result = (await prometheus.query(metric.provider.prometheus.query)).map((sample) => sample.value);
      outcome[metric.name] = { phase: measure(metric, result), result };
    }
    return outcome;
  }

  /** Measures until `done` holds or the deadline passes; returns the last measurement either way. */
  async function measureUntil(done: (outcome: Awaited<ReturnType<typeof measureAll>>) => boolean) {
    const deadline = Date.now() + DEADLINE_MS;
    let outcome = await measureAll();
    while (!done(outcome) && Date.now() < deadline) {
      await delay(500);
      outcome = await measureAll();
    }
    return outcome;
  }

  it('no canary traffic: every measurement is inconclusive (empty result), never failed', async () => {
    await load(REQUESTS_PER_PHASE, {});
    // Wait until the stable traffic is in Prometheus, so "empty" means "no canary data", not "not scraped yet".
    const deadline = Date.now() + DEADLINE_MS;
    while (
      (await prometheus.query('sum(rate(http_requests_total{canary="false",route="/users"}[2m])) > 0'))
        .length === 0
    ) {
      assert.ok(Date.now() < deadline, 'stable traffic never reached Prometheus');
      await delay(500);
    }
    const outcome = await measureAll();
    for (const [name, { phase, result }] of Object.entries(outcome)) {
      assert.deepEqual(result, [], `${name} returned data without canary traffic`);
      assert.equal(phase, 'Inconclusive', name);
    }
  });

  it('healthy canary traffic: P99 and error ratio pass', async (t) => {
    const statuses = await load(REQUESTS_PER_PHASE, { 'x-canary': 'true' });
    assert.equal(statuses.get(200), REQUESTS_PER_PHASE);
    const outcome = await measureUntil((o) => Object.values(o).every(({ result }) => result.length > 0));
    for (const [name, { phase, result }] of Object.entries(outcome)) {
      t.diagnostic(`${name}: ${result.join(', ')} -> ${phase}`);
      assert.equal(phase, 'Successful', `${name} = ${result}`);
    }
  });

  it('a slow, failing canary: both measurements fail, which aborts the rollout', async (t) => {
    faults = { FAULT_SLOW_RATIO: 0.3, FAULT_SLOW_MS: 1_000, FAULT_ERROR_RATIO: 0.2 };
    const started = Date.now();
    const statuses = await load(REQUESTS_PER_PHASE, { 'x-canary': 'true' });
    faults = HEALTHY;
    assert.ok((statuses.get(500) ?? 0) > 0, 'no injected failures');
    const outcome = await measureUntil((o) => Object.values(o).every(({ phase }) => phase === 'Failed'));
    for (const [name, { phase, result }] of Object.entries(outcome)) {
      t.diagnostic(`${name}: ${result.join(', ')} -> ${phase}`);
      assert.equal(phase, 'Failed', `${name} = ${result}`);
    }
    t.diagnostic(`failed verdict ${Date.now() - started} ms after the faulty load began`);
  });
});
