import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FLOOR_HOLD_ANNOTATION } from '../../src/services/alert-relay/remediation/autoscaler-floor.ts';
import type { RemediationSettings } from '../../src/services/alert-relay/remediation/remediator.ts';
import { podRestarting } from '../support/alert-payloads.ts';
import { KubernetesApiDouble, suiteTokenFile } from '../support/kubernetes-api-double.ts';
import { actionResults, quietRemediator, remediationSettings } from '../support/relay-instance.ts';

const TOKEN = 'autoscaler-test-token';
const COOLDOWN_MS = 900_000;

const settings = (overrides: Partial<RemediationSettings> = {}) =>
  remediationSettings({ scaleCooldownMs: COOLDOWN_MS, ...overrides });
const restart = (namespace: string, pod: string, startsAt = '2026-11-27T10:00:00Z') =>
  podRestarting(pod, { namespace, startsAt });
const results = actionResults;

describe('self-healing with and without a HorizontalPodAutoscaler', () => {
  const tokenFile = suiteTokenFile(TOKEN);

  async function cluster(current: RemediationSettings, clock = { now: Date.parse('2026-11-27T10:01:00Z') }) {
    const kube = new KubernetesApiDouble(TOKEN);
    await kube.start();
    for (const node of ['node-a', 'node-b', 'node-c']) kube.addNode(node);
    const remediator = quietRemediator(kube.client(tokenFile.path), current, () => clock.now);
    return { kube, remediator, clock };
  }

  test('an HPA owns the workload: its floor goes up, so its next sync keeps the extra replica', async () => {
    const { kube, remediator } = await cluster(settings());
    try {
      kube.addWorkload('Deployment', 'users', 'user-service', 3, [{ name: 'p1', node: 'node-a' }]);
      kube.addHorizontalPodAutoscaler(
        'users',
        'user-service',
        { kind: 'Deployment', name: 'user-service' },
        2,
        6,
      );
      const records = await remediator.handle([restart('users', 'p1')]);
      assert.deepEqual(results(records), ['scale_up:success']);
      assert.match(
        records[0]?.detail ?? '',
        /HorizontalPodAutoscaler users\/user-service minReplicas 2 -> 4/,
      );
      assert.ok(
        kube.http.requests.some(
          (r) =>
            r.method === 'GET' && r.path === '/apis/autoscaling/v2/namespaces/users/horizontalpodautoscalers',
        ),
        'HPAs listed to find the owner of the replica count',
      );
      assert.deepEqual(
        kube.writes.map((r) => `${r.method} ${r.path} ${r.headers['content-type']}`),
        [
          'PATCH /apis/autoscaling/v2/namespaces/users/horizontalpodautoscalers/user-service application/merge-patch+json',
        ],
        'the HPA is patched, never the scale subresource it owns',
      );
      const patch = JSON.parse(kube.writes[0]?.body ?? '{}') as { metadata: { resourceVersion?: string } };
      assert.ok(patch.metadata.resourceVersion, 'guarded by the resourceVersion read');
      kube.reconcileAutoscalers();
      assert.equal(
        kube.replicas('Deployment', 'users', 'user-service'),
        4,
        'the HPA keeps the extra replica',
      );
      assert.equal(kube.autoscaler('users', 'user-service')?.spec.minReplicas, 4);
    } finally {
      await kube.stop();
    }
  });

  test('at the HPA maxReplicas nothing is written (scaling past it would be undone at once)', async () => {
    const { kube, remediator } = await cluster(settings());
    try {
      kube.addWorkload('Deployment', 'users', 'user-service', 4, [{ name: 'p1', node: 'node-a' }]);
      kube.addHorizontalPodAutoscaler(
        'users',
        'user-service',
        { kind: 'Deployment', name: 'user-service' },
        2,
        4,
      );
      const records = await remediator.handle([restart('users', 'p1')]);
      assert.deepEqual(results(records), ['scale_up:at_max']);
      assert.match(records[0]?.detail ?? '', /maxReplicas 4/);
      assert.deepEqual(kube.writes, []);
    } finally {
      await kube.stop();
    }
  });

  test('after the cooldown the floor goes back and the HPA scales down on its own', async () => {
    const { kube, remediator, clock } = await cluster(settings());
    try {
      kube.addWorkload('Deployment', 'users', 'user-service', 3, [{ name: 'p1', node: 'node-a' }]);
      kube.addHorizontalPodAutoscaler(
        'users',
        'user-service',
        { kind: 'Deployment', name: 'user-service' },
        2,
        6,
      );
      await remediator.handle([restart('users', 'p1')]);
      const held = kube.autoscaler('users', 'user-service');
      assert.ok(held?.metadata.annotations?.[FLOOR_HOLD_ANNOTATION], 'the restore is noted on the HPA');
      assert.deepEqual(await remediator.restoreFloors(), [], 'nothing to restore inside the cooldown');
      assert.equal(kube.autoscaler('users', 'user-service')?.spec.minReplicas, 4);

      clock.now += COOLDOWN_MS;
      const restored = await remediator.restoreFloors();
      assert.deepEqual(results(restored), ['restore_floor:success']);
      const hpa = kube.autoscaler('users', 'user-service');
      assert.equal(hpa?.spec.minReplicas, 2);
      assert.equal(hpa?.metadata.annotations?.[FLOOR_HOLD_ANNOTATION], undefined, 'the note is removed');
      kube.reconcileAutoscalers();
      assert.equal(kube.replicas('Deployment', 'users', 'user-service'), 3, 'back to what its metrics ask');
      assert.deepEqual(await remediator.restoreFloors(), [], 'restored once');
    } finally {
      await kube.stop();
    }
  });

  test('a floor someone changed during the hold is left alone; only the note goes', async () => {
    const { kube, remediator, clock } = await cluster(settings());
    try {
      kube.addWorkload('Deployment', 'users', 'user-service', 3, [{ name: 'p1', node: 'node-a' }]);
      kube.addHorizontalPodAutoscaler(
        'users',
        'user-service',
        { kind: 'Deployment', name: 'user-service' },
        2,
        6,
      );
      await remediator.handle([restart('users', 'p1')]);
      const hpa = kube.autoscaler('users', 'user-service');
      assert.ok(hpa);
      hpa.spec.minReplicas = 5;
      clock.now += COOLDOWN_MS;
      assert.deepEqual(results(await remediator.restoreFloors()), ['restore_floor:superseded']);
      assert.equal(kube.autoscaler('users', 'user-service')?.spec.minReplicas, 5);
      assert.equal(
        kube.autoscaler('users', 'user-service')?.metadata.annotations?.[FLOOR_HOLD_ANNOTATION],
        undefined,
      );
    } finally {
      await kube.stop();
    }
  });

  test('without an HPA the Deployment is scaled through its scale subresource', async () => {
    const { kube, remediator } = await cluster(settings());
    try {
      kube.addWorkload('Deployment', 'users', 'user-service', 3, [{ name: 'p1', node: 'node-a' }]);
      // An HPA on another workload in the namespace does not own this one.
      kube.addWorkload('Deployment', 'users', 'other', 2, []);
      kube.addHorizontalPodAutoscaler('users', 'other', { kind: 'Deployment', name: 'other' }, 2, 6);
      assert.deepEqual(results(await remediator.handle([restart('users', 'p1')])), ['scale_up:success']);
      assert.deepEqual(
        kube.writes.map((r) => `${r.method} ${r.path}`),
        ['PATCH /apis/apps/v1/namespaces/users/deployments/user-service/scale'],
      );
      assert.equal(kube.replicas('Deployment', 'users', 'user-service'), 4);
      assert.equal(kube.autoscaler('users', 'other')?.spec.minReplicas, 2);
    } finally {
      await kube.stop();
    }
  });

  test('dry-run says which floor it would raise and writes nothing', async () => {
    const { kube, remediator } = await cluster(settings({ mode: 'dry-run' }));
    try {
      kube.addWorkload('Deployment', 'users', 'user-service', 3, [{ name: 'p1', node: 'node-a' }]);
      kube.addHorizontalPodAutoscaler(
        'users',
        'user-service',
        { kind: 'Deployment', name: 'user-service' },
        2,
        6,
      );
      const records = await remediator.handle([restart('users', 'p1')]);
      assert.deepEqual(results(records), ['scale_up:dry_run']);
      assert.match(
        records[0]?.detail ?? '',
        /would raise: HorizontalPodAutoscaler users\/user-service minReplicas 2 -> 4/,
      );
      assert.deepEqual(kube.writes, []);
    } finally {
      await kube.stop();
    }
  });
});
