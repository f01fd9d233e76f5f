import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { K8sObject } from '../../deploy/ci/kustomize.ts';
import { type MeasurementPhase, measure } from '../support/argo-analysis.ts';
import { KubeletVolume } from '../support/kubelet-volume.ts';
import { findObject, renderOverlay } from '../support/kubernetes-manifests.ts';
import { type PrometheusServer, startPrometheus } from '../support/prometheus-server.ts';
import { needs } from '../support/requirements.ts';
import { type RunningService, spawnService } from '../support/spawn-service.ts';

/**
 * The prod AnalysisTemplate, exactly as rendered (its namespace argument filled the way the Rollout fills it),
 * judged by a real Prometheus scraping real service processes in two namespaces, as the ServiceMonitor labels
 * them. Each pod knows whether it is a canary from its CANARY file (the downward-API volume of the pod label):
 * - prod stable, and a staging canary that is slow and failing all along;
 * - only stable traffic in prod: both measurements inconclusive (no data), whatever staging does;
 * - healthy prod canary traffic: both successful, although staging's canary fails;
 * - the prod canary turns 30 % slow (1 s) and 20 % failing: both failed, which aborts the Rollout.
 */

interface AnalysisMetric {
  name: string;
  successCondition: string;
  failureCondition: string;
  provider: { prometheus: { query: string } };
}

const skip = needs('kubectl', 'prometheus');
const FAULTY = { FAULT_SLOW_RATIO: '0.3', FAULT_SLOW_MS: '1000', FAULT_ERROR_RATIO: '0.2' };
const HEALTHY = { FAULT_SLOW_RATIO: '0', FAULT_SLOW_MS: '1000', FAULT_ERROR_RATIO: '0' };
const STAGING = 'user-service-staging';
const REQUESTS_PER_PHASE = 300;
const CONCURRENCY = 30;
/** Each client waits this long between requests, so a phase spans several 1 s scrapes: a counter that appeared
 * and stopped within one scrape would show no rate. */
const PACE_MS = 400;
const DEADLINE_MS = 30_000;

describe('canary analysis on a real Prometheus, per namespace', { skip, timeout: 180_000 }, () => {
  let root: string;
  let prometheus: PrometheusServer;
  let metrics: AnalysisMetric[];
  let prodNamespace: string;
  let prodStable: RunningService;
  let prodCanary: RunningService;
  let prodCanaryVolume: KubeletVolume;
  let stagingCanary: RunningService;

  const pod = async (name: string, files: Record<string, string>) => {
    const volume = new KubeletVolume(join(root, name));
    await volume.update(files);
    const service = await spawnService({
      env: { DATABASE_URL: 'memory://', CONFIG_DIR: volume.directory, CONFIG_POLL_INTERVAL_MS: '1000' },
    });
    return { service, volume };
  };

  before(async () => {
    const objects: K8sObject[] = await renderOverlay('prod');
    const rollout = findObject(objects, 'Rollout');
    prodNamespace = rollout.metadata.namespace!;
    metrics = findObject(objects, 'AnalysisTemplate').spec.metrics;
    root = await mkdtemp(join(tmpdir(), 'canary-analysis-'));
    const started = await Promise.all([
      pod('prod-stable', { CANARY: 'false', ...HEALTHY }),
      pod('prod-canary', { CANARY: 'true', ...HEALTHY }),
      pod('staging-canary', { CANARY: 'true', ...FAULTY }),
    ]);
    const [stable, canary, staging] = started;
    prodStable = stable!.service;
    prodCanary = canary!.service;
    prodCanaryVolume = canary!.volume;
    stagingCanary = staging!.service;
    const target = (job: string, service: RunningService, namespace: string) => ({
      job,
      targets: [`127.0.0.1:${service.port}`],
      labels: { namespace },
    });
    prometheus = await startPrometheus({
      targets: [
        target('prod-stable', prodStable, prodNamespace),
        target('prod-canary', prodCanary, prodNamespace),
        target('staging-canary', stagingCanary, STAGING),
      ],
    });
    await prometheus.waitForTargetsUp();
  });

  after(async () => {
    await prometheus?.stop();
    await Promise.all([prodStable, prodCanary, stagingCanary].map((service) => service?.stop()));
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** Sends `count` GET /users requests to each service, `concurrency` at a time; counts the answers by status. */
  async function load(services: RunningService[], count = REQUESTS_PER_PHASE): Promise<Map<number, number>> {
    const statuses = new Map<number, number>();
    await Promise.all(
      services.map(async (service) => {
        let next = 0;
        const worker = async () => {
          while (next < count) {
            next++;
            const response = await fetch(`${service.url}/users?limit=1`);
            await response.arrayBuffer();
            statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
            await delay(PACE_MS);
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY / services.length }, worker));
      }),
    );
    return statuses;
  }

  /** The measurement Argo takes in prod: the template's query with the Rollout's namespace as its argument. */
  async function measureProd(): Promise<Record<string, { phase: MeasurementPhase; result: number[] }>> {
    const outcome: Record<string, { phase: MeasurementPhase; result: number[] }> = {};
    for (const metric of metrics) {
      const query = metric.provider.prometheus.query.replaceAll('{{args.namespace}}', prodNamespace);
      const result = (await prometheus.query(query)).map((sample) => sample.value);
      outcome[metric.name] = { phase: measure(metric, result), result };
    }
    return outcome;
  }

  /** Measures until `done` holds or the deadline passes; returns the last measurement either way. */
  async function measureUntil(done: (outcome: Awaited<ReturnType<typeof measureProd>>) => boolean) {
    const deadline = Date.now() + DEADLINE_MS;
    let outcome = await measureProd();
    while (!done(outcome) && Date.now() < deadline) {
      await delay(500);
      outcome = await measureProd();
    }
    return outcome;
  }

  /** Waits until `expr` has data, so "empty" afterwards means "none of that traffic", not "not scraped yet". */
  async function waitForData(expr: string): Promise<void> {
    const deadline = Date.now() + DEADLINE_MS;
    while ((await prometheus.query(expr)).length === 0) {
      assert.ok(Date.now() < deadline, `no data for ${expr}`);
      await delay(500);
    }
  }

  it("no prod canary traffic: inconclusive (empty), never failed, while staging's canary fails", async () => {
    const statuses = await load([prodStable, stagingCanary]);
    assert.ok((statuses.get(500) ?? 0) > 0, 'staging injected no failures');
    await waitForData(`sum(rate(http_requests_total{namespace="${prodNamespace}",canary="false"}[2m])) > 0`);
    await waitForData(
      `sum(rate(http_requests_total{namespace="${STAGING}",canary="true",status_code="500"}[2m])) > 0`,
    );
    for (const [name, { phase, result }] of Object.entries(await measureProd())) {
      assert.deepEqual(result, [], `${name} returned data without prod canary traffic`);
      assert.equal(phase, 'Inconclusive', name);
    }
  });

  it("healthy prod canary: P99 and error ratio pass although staging's canary is slow and failing", async (t) => {
    const statuses = await load([prodCanary, stagingCanary]);
    assert.ok((statuses.get(500) ?? 0) > 0, 'staging injected no failures');
    const outcome = await measureUntil((o) => Object.values(o).every(({ result }) => result.length > 0));
    for (const [name, { phase, result }] of Object.entries(outcome)) {
      t.diagnostic(`${name}: ${result.join(', ')} -> ${phase}`);
      assert.equal(phase, 'Successful', `${name} = ${result}`);
    }
  });

  it('a slow, failing prod canary: both measurements fail, which aborts the rollout', async (t) => {
    await prodCanaryVolume.update(FAULTY);
    await prodCanary.waitForLine((line) => /configuration reloaded/.test(line.message), 10_000);
    const started = Date.now();
    const statuses = await load([prodCanary]);
    assert.ok((statuses.get(500) ?? 0) > 0, 'no injected failures');
    const outcome = await measureUntil((o) => Object.values(o).every(({ phase }) => phase === 'Failed'));
    for (const [name, { phase, result }] of Object.entries(outcome)) {
      t.diagnostic(`${name}: ${result.join(', ')} -> ${phase}`);
      assert.equal(phase, 'Failed', `${name} = ${result}`);
    }
    t.diagnostic(`failed verdict ${Date.now() - started} ms after the faulty load began`);
  });
});
