import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RemediationSettings } from '../../src/services/alert-relay/remediation/remediator.ts';
import { podRestarting } from '../support/alert-payloads.ts';
import { KubernetesApiDouble, suiteTokenFile } from '../support/kubernetes-api-double.ts';
import { actionResults, quietRemediator, remediationSettings } from '../support/relay-instance.ts';

const TOKEN = 'write-retry-test-token';

const settings = (overrides: Partial<RemediationSettings> = {}) =>
  remediationSettings({ writeRetries: 3, ...overrides });
const restart = (pod: string, node = 'node-a', startsAt = '2026-11-27T10:00:00Z') =>
  podRestarting(pod, { node, startsAt });
const results = actionResults;

describe('remediation writes: retried with backoff, remembered only once done', () => {
  const tokenFile = suiteTokenFile(TOKEN);

  async function cluster(current: RemediationSettings) {
    const kube = new KubernetesApiDouble(TOKEN);
    await kube.start();
    for (const node of ['node-a', 'node-b', 'node-c']) kube.addNode(node);
    kube.addWorkload('Deployment', 'users', 'user-service', 3, [
      { name: 'p1', node: 'node-a' },
      { name: 'p2', node: 'node-a' },
      { name: 'p3', node: 'node-a' },
    ]);
    const remediator = quietRemediator(kube.client(tokenFile.path), current);
    return { kube, remediator };
  }

  test('a scale PATCH that fails twice (503, then 409) is retried and succeeds', async () => {
    const { kube, remediator } = await cluster(settings());
    try {
      kube.failNextWrites(503, 409);
      assert.deepEqual(results(await remediator.handle([restart('p1')])), ['scale_up:success']);
      assert.equal(kube.writes.length, 3, 'two failed attempts and the one that worked');
      assert.equal(kube.replicas('Deployment', 'users', 'user-service'), 4);
      // The scale was re-read before each attempt: the last PATCH carries the current resourceVersion.
      const scaleReads = kube.http.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/scale'));
      assert.equal(scaleReads.length, 3);
    } finally {
      await kube.stop();
    }
  });

  test('a write that keeps failing sets no cooldown: the next alert tries again at once', async () => {
    const { kube, remediator } = await cluster(settings());
    try {
      kube.failNextWrites(503, 503, 503, 503);
      const failed = await remediator.handle([restart('p1')]);
      assert.deepEqual(results(failed), ['scale_up:failed']);
      assert.equal(kube.writes.length, 4, 'first attempt and three retries, no more');
      assert.equal(kube.replicas('Deployment', 'users', 'user-service'), 3);
      // Alertmanager's repeat of the same occurrence is not a duplicate, and no cooldown blocks it.
      assert.deepEqual(results(await remediator.handle([restart('p1')])), ['scale_up:success']);
      assert.equal(kube.replicas('Deployment', 'users', 'user-service'), 4);
      assert.deepEqual(results(await remediator.handle([restart('p2')])), ['scale_up:cooldown']);
    } finally {
      await kube.stop();
    }
  });

  test('a refusal that another attempt cannot fix (403) is not retried', async () => {
    const { kube, remediator } = await cluster(settings());
    try {
      kube.failNextWrites(403);
      assert.deepEqual(results(await remediator.handle([restart('p1')])), ['scale_up:failed']);
      assert.equal(kube.writes.length, 1);
    } finally {
      await kube.stop();
    }
  });

  test('a failed cordon claims no node: the next failing pod cordons it', async () => {
    const { kube, remediator } = await cluster(settings({ cordonPodThreshold: 2, scaleCooldownMs: 0 }));
    try {
      await remediator.handle([restart('p1')]);
      kube.failNextWrites(503, 503, 503, 503, 503, 503, 503, 503);
      const records = await remediator.handle([restart('p2')]);
      // The scale-up takes the first failures, then the cordon runs out of attempts.
      assert.ok(results(records).includes('cordon:failed'), JSON.stringify(records));
      assert.notEqual(kube.nodes.get('node-a')?.spec.unschedulable, true);
      assert.deepEqual(
        results(await remediator.handle([restart('p3')])).filter((r) => r.startsWith('cordon')),
        ['cordon:success'],
      );
      assert.equal(kube.nodes.get('node-a')?.spec.unschedulable, true);
    } finally {
      await kube.stop();
    }
  });

  test('an HPA floor patch hitting a conflict is retried on a fresh read', async () => {
    const { kube, remediator } = await cluster(settings());
    try {
      kube.addHorizontalPodAutoscaler(
        'users',
        'user-service',
        { kind: 'Deployment', name: 'user-service' },
        2,
        6,
      );
      kube.failNextWrites(409);
      assert.deepEqual(results(await remediator.handle([restart('p1')])), ['scale_up:success']);
      assert.equal(kube.autoscaler('users', 'user-service')?.spec.minReplicas, 4);
    } finally {
      await kube.stop();
    }
  });
});
