import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { MttrTracker } from '../../src/services/alert-relay/mttr.ts';
import type { WorkloadRef } from '../../src/services/alert-relay/remediation/kubernetes-api.ts';
import { alert } from '../support/alert-payloads.ts';
import { KubernetesApiDouble, suiteTokenFile } from '../support/kubernetes-api-double.ts';

const TOKEN = 'mttr-test-token';
const WEB: WorkloadRef = { kind: 'Deployment', namespace: 'users', name: 'web' };
const at = (time: string) => Date.parse(`2026-11-27T${time}Z`);

const iso = (ms: number) => new Date(ms).toISOString();
const restart = (pod: string, startsAt: string, resolvedAt?: string) =>
  alert(
    { alertname: 'PodRestartingTooOften', severity: 'critical', namespace: 'users', pod },
    resolvedAt
      ? { status: 'resolved', startsAt: `2026-11-27T${startsAt}Z`, endsAt: `2026-11-27T${resolvedAt}Z` }
      : { startsAt: `2026-11-27T${startsAt}Z` },
  );

describe('MTTR: first failing signal to the workload healthy again', () => {
  const tokenFile = suiteTokenFile(TOKEN);

  /**
   * The poll interval is an hour, so after its first look the loop sleeps and the test drives every further look
   * through resolved notices, with the clock where it wants it.
   */
  async function setup(options: { stableMs?: number; watchMaxMs?: number; windowMs?: number } = {}) {
    const kube = new KubernetesApiDouble(TOKEN);
    await kube.start();
    kube.addWorkload('Deployment', 'users', 'web', 3, [
      { name: 'web-1', node: 'node-a' },
      { name: 'web-2', node: 'node-a' },
      { name: 'web-3', node: 'node-b' },
    ]);
    const clock = { now: at('10:01:00') };
    const registry = new Registry();
    const mttr = new MttrTracker({
      kubernetes: kube.client(tokenFile.path),
      logger: pino({ level: 'silent' }),
      metrics: registry,
      settings: {
        pollIntervalMs: 3_600_000,
        stableMs: options.stableMs ?? 60_000,
        watchMaxMs: options.watchMaxMs ?? 86_400_000,
        windowMs: options.windowMs ?? 7 * 86_400_000,
        samplesKept: 100,
      },
      now: () => clock.now,
    });
    /** A resolved notice for web-1 at `time`: the incident looks at the cluster then. */
    const lookAt = async (time: string) => {
      clock.now = at(time);
      return mttr.resolved([restart('web-1', '10:00:00', time)]);
    };
    return { kube, mttr, clock, lookAt, registry };
  }

  test('repair time ends at the first look of a stable healthy stretch, not at the alert resolution', async () => {
    const { kube, mttr, lookAt, registry } = await setup();
    try {
      kube.setReady('Deployment', 'users', 'web', 1);
      mttr.open(WEB, restart('web-1', '10:00:00'));
      assert.equal(await lookAt('10:01:00'), 0, 'one of three ready');
      kube.setReady('Deployment', 'users', 'web', undefined);
      assert.equal(await lookAt('10:03:00'), 0, 'healthy, not yet for MTTR_STABLE_S');
      assert.equal(await lookAt('10:03:30'), 0);
      assert.equal(await lookAt('10:04:00'), 1, 'healthy for 60 s: repaired');
      const summary = mttr.summary();
      assert.deepEqual(summary.recent, [
        {
          workload: 'Deployment users/web',
          alertname: 'PodRestartingTooOften',
          started_at: '2026-11-27T10:00:00.000Z',
          recovered_at: '2026-11-27T10:03:00.000Z',
          seconds: 180,
        },
      ]);
      assert.equal(summary.overall?.p50_seconds, 180);
      assert.deepEqual(summary.open, []);
      const metrics = await registry.metrics();
      assert.match(metrics, /workload_mttr_seconds_count\{namespace="users",workload="web"\} 1/);
    } finally {
      mttr.close();
      await kube.stop();
    }
  });

  test('a restart inside the healthy stretch starts it again', async () => {
    const { kube, mttr, lookAt } = await setup();
    try {
      mttr.open(WEB, restart('web-1', '10:00:00'));
      assert.equal(await lookAt('10:01:00'), 0);
      kube.setRestarts('users', 'web-2', 4);
      assert.equal(await lookAt('10:01:40'), 0, 'web-2 restarted since the last look');
      assert.equal(await lookAt('10:02:20'), 0, 'healthy since 10:02:20 only');
      assert.equal(await lookAt('10:03:20'), 1);
      assert.equal(mttr.summary().recent[0]?.recovered_at, '2026-11-27T10:02:20.000Z');
    } finally {
      mttr.close();
      await kube.stop();
    }
  });

  test('alerts on more pods of the workload are one incident from the earliest start', async () => {
    const { kube, mttr, lookAt } = await setup({ stableMs: 0 });
    try {
      mttr.open(WEB, restart('web-1', '10:00:30'));
      mttr.open(WEB, restart('web-2', '10:00:00'));
      // MTTR_STABLE_S=0: the first ready look is the repair.
      assert.equal(await lookAt('10:01:00'), 1);
      assert.deepEqual(
        mttr.summary().recent.map((sample) => [sample.started_at, sample.seconds]),
        [['2026-11-27T10:00:00.000Z', 60]],
      );
      // Another pod's alert that started before the repair belongs to the incident that ended.
      mttr.open(WEB, restart('web-3', '10:00:45'));
      assert.deepEqual(mttr.summary().open, []);
    } finally {
      mttr.close();
      await kube.stop();
    }
  });

  test('P50 and P90 over the window of MTTR_WINDOW_S', async () => {
    const { kube, mttr, clock, registry } = await setup({ stableMs: 0, windowMs: 3_600_000 });
    const look = () => mttr.resolved([restart('web-1', '10:00:00', '10:30:00')]);
    try {
      let start = at('10:00:00');
      for (const seconds of [60, 120, 180, 240, 300, 360, 420, 480, 540, 600]) {
        kube.setReady('Deployment', 'users', 'web', 1);
        clock.now = start;
        mttr.open(
          WEB,
          alert(
            { alertname: 'PodRestartingTooOften', namespace: 'users', pod: 'web-1' },
            { startsAt: iso(start) },
          ),
        );
        assert.equal(await look(), 0);
        kube.setReady('Deployment', 'users', 'web', undefined);
        clock.now = start + seconds * 1_000;
        assert.equal(await look(), 1);
        start = clock.now + 1_000;
      }
      const summary = mttr.summary();
      assert.equal(summary.overall?.incidents, 10);
      assert.equal(summary.overall?.p50_seconds, 300);
      assert.equal(summary.overall?.p90_seconds, 540);
      assert.equal(summary.window_seconds, 3_600);
      const metrics = await registry.metrics();
      assert.match(metrics, /workload_mttr_window_seconds\{[^}]*quantile="0.9"[^}]*\} 540/);
      clock.now += 3 * 3_600_000;
      assert.equal(mttr.summary().overall, null, 'nothing repaired in the last hour');
    } finally {
      mttr.close();
      await kube.stop();
    }
  });

  test('the time alerts stayed open is kept apart, once per occurrence', async () => {
    const { kube, mttr, registry } = await setup();
    try {
      const resolved = alert(
        { alertname: 'MttrOpenOnly', namespace: 'users', pod: 'web-9' },
        { status: 'resolved', startsAt: '2026-11-27T10:00:00Z', endsAt: '2026-11-27T10:16:00Z' },
      );
      await mttr.resolved([resolved, resolved]);
      await mttr.resolved([resolved]);
      const metrics = await registry.metrics();
      assert.match(metrics, /alert_open_seconds_sum\{alertname="MttrOpenOnly"\} 960\b/);
      assert.match(metrics, /alert_open_seconds_count\{alertname="MttrOpenOnly"\} 1\b/);
    } finally {
      mttr.close();
      await kube.stop();
    }
  });
});
