import type { KubernetesApi, WorkloadRef } from './kubernetes-api.ts';

export interface HealthObservation {
  at: number;
  desired: number;
  ready: number;
  /** Container restarts so far, by pod name. */
  restarts: Map<string, number>;
}

/** Ready pods against desired replicas (Deployment or Rollout status), and the restart count of each of its pods. */
export async function observeWorkload(
  kube: KubernetesApi,
  workload: WorkloadRef,
  now: () => number,
): Promise<HealthObservation> {
  const object = await kube.getWorkload(workload);
  const selector = Object.entries(object.spec.selector?.matchLabels ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
  const pods = selector ? await kube.listPods(workload.namespace, selector) : [];
  const restarts = new Map<string, number>();
  for (const pod of pods) {
    const total = (pod.status?.containerStatuses ?? []).reduce((sum, status) => sum + status.restartCount, 0);
    restarts.set(pod.metadata.name, total);
  }
  return {
    at: now(),
    desired: object.spec.replicas ?? 1,
    ready: object.status?.readyReplicas ?? 0,
    restarts,
  };
}

/** Pods that restarted between two observations; a pod that appeared in between counts if it restarted at all. */
export function restartedSince(before: HealthObservation, after: HealthObservation): string[] {
  return [...after.restarts]
    .filter(([pod, count]) => count > (before.restarts.get(pod) ?? 0))
    .map(([pod]) => pod);
}

export const isReady = (observation: HealthObservation) =>
  observation.desired > 0 && observation.ready >= observation.desired;
