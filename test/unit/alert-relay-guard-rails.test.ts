import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type {
  KubernetesApi,
  Node,
  WorkloadRef,
} from '../../src/services/alert-relay/remediation/kubernetes-api.ts';
import type { RemediationSettings } from '../../src/services/alert-relay/remediation/remediator.ts';
import { alert, podRestarting } from '../support/alert-payloads.ts';
import { actionResults, quietRemediator, remediationSettings } from '../support/relay-instance.ts';

/** An in-memory cluster behind the KubernetesApi surface: pods p<N> owned by ReplicaSet rs of Deployment web. */
function fakeCluster(options: { replicas: number; nodes: Node[] }) {
  const writes: string[] = [];
  let replicas = options.replicas;
  const api = {
    getPod: async (namespace: string, name: string) => {
      if (name === 'gone') throw new Error('GET pod: 404 pods "gone" not found');
      if (name === 'bare') return { metadata: { name, namespace } };
      return {
        metadata: {
          name,
          namespace,
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs' }],
        },
        spec: { nodeName: 'node-from-pod' },
      };
    },
    getReplicaSet: async (namespace: string, name: string) => ({
      metadata: {
        name,
        namespace,
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }],
      },
    }),
    getScale: async (workload: WorkloadRef) => ({
      metadata: { name: workload.name, resourceVersion: String(replicas) },
      spec: { replicas },
    }),
    patchScale: async (workload: WorkloadRef, next: number) => {
      writes.push(`scale ${workload.kind}/${workload.name} ${next}`);
      replicas = next;
      return { metadata: { name: workload.name }, spec: { replicas } };
    },
    listHorizontalPodAutoscalers: async () => [],
    listNodes: async () => options.nodes,
    cordonNode: async (name: string) => {
      writes.push(`cordon ${name}`);
      return { metadata: { name } };
    },
  };
  return { api: api as unknown as KubernetesApi, writes, replicas: () => replicas };
}

const nodes = (...names: string[]): Node[] => names.map((name) => ({ metadata: { name }, spec: {} }));

const settings = (overrides: Partial<RemediationSettings> = {}) =>
  remediationSettings({ scaleCooldownMs: 600_000, cordonPodThreshold: 2, ...overrides });

const remediator = (
  cluster: ReturnType<typeof fakeCluster>,
  current: RemediationSettings,
  clock = { now: 1_000_000 },
) => quietRemediator(cluster.api, current, () => clock.now);

const restart = (pod: string, node = 'node-a', startsAt = '2026-11-27T10:00:00Z') =>
  podRestarting(pod, { node, startsAt });
const results = actionResults;

describe('remediation guard rails', () => {
  test('the same occurrence acts once; a re-fire after cooldown acts again', async () => {
    const cluster = fakeCluster({ replicas: 2, nodes: nodes('node-a', 'node-b', 'node-c') });
    const clock = { now: 1_000_000 };
    const relay = remediator(cluster, settings({ cordonPodThreshold: 99 }), clock);
    assert.deepEqual(results(await relay.handle([restart('p1')])), ['scale_up:success']);
    assert.deepEqual(results(await relay.handle([restart('p1')])), ['scale_up:duplicate']);
    // Two webhooks at once (two receivers carrying the same alert) still act once.
    const both = await Promise.all([relay.handle([restart('p1')]), relay.handle([restart('p1')])]);
    assert.deepEqual(
      both.flat().map((r) => r.result),
      ['duplicate', 'duplicate'],
    );
    clock.now += 600_001;
    assert.deepEqual(results(await relay.handle([restart('p1', 'node-a', '2026-11-27T11:00:00Z')])), [
      'scale_up:success',
    ]);
    assert.deepEqual(cluster.writes, ['scale Deployment/web 3', 'scale Deployment/web 4']);
  });

  test('cooldown per workload, the replica cap and the hourly budget refuse before any write', async () => {
    const cluster = fakeCluster({ replicas: 4, nodes: nodes('node-a', 'node-b', 'node-c') });
    const clock = { now: 1_000_000 };
    const current = settings({
      cordonPodThreshold: 99,
      maxReplicas: 5,
      scaleCooldownMs: 0,
      maxActionsPerHour: 1,
    });
    const relay = remediator(cluster, current, clock);
    assert.deepEqual(results(await relay.handle([restart('p1')])), ['scale_up:success']);
    assert.deepEqual(results(await relay.handle([restart('p2')])), ['scale_up:at_max']);
    current.maxReplicas = 10;
    assert.deepEqual(results(await relay.handle([restart('p3')])), ['scale_up:budget_exhausted']);
    clock.now += 3_600_001;
    assert.deepEqual(results(await relay.handle([restart('p4')])), ['scale_up:success']);
    current.scaleCooldownMs = 60_000;
    assert.deepEqual(results(await relay.handle([restart('p5')])), ['scale_up:cooldown']);
    assert.deepEqual(cluster.writes, ['scale Deployment/web 5', 'scale Deployment/web 6']);
  });

  test('cordon only at the threshold, once, and never below the schedulable minimum', async () => {
    const cluster = fakeCluster({ replicas: 2, nodes: nodes('node-a', 'node-b', 'node-c') });
    const relay = remediator(cluster, settings({ scaleCooldownMs: 3_600_000 }));
    assert.deepEqual(results(await relay.handle([restart('p1')])), ['scale_up:success']);
    assert.deepEqual(results(await relay.handle([restart('p2', 'node-b')])), ['scale_up:cooldown']);
    assert.deepEqual(results(await relay.handle([restart('p3')])), ['scale_up:cooldown', 'cordon:success']);
    assert.deepEqual(results(await relay.handle([restart('p4')])), ['scale_up:cooldown', 'cordon:duplicate']);
    assert.deepEqual(cluster.writes, ['scale Deployment/web 3', 'cordon node-a']);

    const small = fakeCluster({ replicas: 2, nodes: nodes('node-a', 'node-b') });
    const guarded = remediator(small, settings({ scaleCooldownMs: 3_600_000 }));
    await guarded.handle([restart('p1'), restart('p2')]);
    const last = await guarded.handle([restart('p3')]);
    assert.equal(last.at(-1)?.result, 'quota');
    assert.deepEqual(small.writes, ['scale Deployment/web 3']);

    const alreadyOne: Node[] = [
      ...nodes('node-a', 'node-b', 'node-c'),
      { metadata: { name: 'node-d' }, spec: { unschedulable: true } },
    ];
    const quota = fakeCluster({ replicas: 2, nodes: alreadyOne });
    const limited = remediator(quota, settings({ scaleCooldownMs: 3_600_000 }));
    const records = await limited.handle([restart('p1'), restart('p2')]);
    assert.equal(records.at(-1)?.result, 'quota');
    assert.match(records.at(-1)?.detail ?? '', /1 nodes already unschedulable/);
  });

  test('a resolved alert takes its pod out of the node count', async () => {
    const cluster = fakeCluster({ replicas: 2, nodes: nodes('node-a', 'node-b', 'node-c') });
    const relay = remediator(cluster, settings({ scaleCooldownMs: 3_600_000 }));
    await relay.handle([restart('p1')]);
    await relay.handle([{ ...restart('p1'), status: 'resolved', endsAt: '2026-11-27T10:10:00Z' }]);
    assert.deepEqual(results(await relay.handle([restart('p2')])), ['scale_up:cooldown']);
    assert.deepEqual(cluster.writes, ['scale Deployment/web 3']);
  });

  test('dry-run spends budget and cooldown like the real thing but writes nothing; off does nothing', async () => {
    const cluster = fakeCluster({ replicas: 2, nodes: nodes('node-a', 'node-b', 'node-c') });
    const current = settings({ mode: 'dry-run' });
    const relay = remediator(cluster, current);
    assert.deepEqual(results(await relay.handle([restart('p1'), restart('p2')])), [
      'scale_up:dry_run',
      'scale_up:cooldown',
      'cordon:dry_run',
    ]);
    assert.deepEqual(cluster.writes, []);
    current.mode = 'off';
    assert.deepEqual(await relay.handle([restart('p9')]), []);
  });

  test('pods without a Deployment/Rollout owner, missing labels and API errors are reported, not thrown', async () => {
    const cluster = fakeCluster({ replicas: 2, nodes: nodes('node-a', 'node-b', 'node-c') });
    const relay = remediator(cluster, settings({ cordonPodThreshold: 99 }));
    assert.deepEqual(results(await relay.handle([restart('bare')])), ['scale_up:no_owner']);
    const unlabeled = alert({ alertname: 'PodRestartingTooOften', severity: 'critical' });
    assert.deepEqual(results(await relay.handle([unlabeled])), ['scale_up:failed']);
    assert.deepEqual(results(await relay.handle([restart('gone')])), ['scale_up:failed']);
    // The failed lookup is forgotten, so Alertmanager's next repeat tries again.
    assert.deepEqual(results(await relay.handle([restart('gone')])), ['scale_up:failed']);
    // Other alerts are not the relay's business.
    assert.deepEqual(
      await relay.handle([alert({ alertname: 'UserServiceHighLatencyP99', severity: 'critical' })]),
      [],
    );
  });
});
