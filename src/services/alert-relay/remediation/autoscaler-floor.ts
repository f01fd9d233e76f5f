import type { HorizontalPodAutoscaler, WorkloadRef } from './kubernetes-api.ts';

/**
 * Where the relay notes on an HPA that it raised `minReplicas`, what to put back and when. Kept on the object
 * itself rather than in the process, so a restarted relay still restores it.
 */
export const FLOOR_HOLD_ANNOTATION = 'alert-relay.user-platform.io/min-replicas-hold';

export interface FloorHold {
  /** `minReplicas` before the relay first raised it. */
  restoreTo: number;
  /** The value the relay wrote: a different value now means someone else changed it since. */
  raisedTo: number;
  /** Epoch ms after which the floor goes back. */
  until: number;
}

export function readFloorHold(hpa: HorizontalPodAutoscaler): FloorHold | undefined {
  const text = hpa.metadata.annotations?.[FLOOR_HOLD_ANNOTATION];
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as { restoreTo?: unknown; raisedTo?: unknown; until?: unknown };
    const until = typeof value.until === 'string' ? Date.parse(value.until) : Number.NaN;
    if (!Number.isInteger(value.restoreTo) || !Number.isInteger(value.raisedTo) || !Number.isFinite(until))
      return undefined;
    return { restoreTo: value.restoreTo as number, raisedTo: value.raisedTo as number, until };
  } catch {
    return undefined;
  }
}

export function writeFloorHold(hold: FloorHold): string {
  return JSON.stringify({
    restoreTo: hold.restoreTo,
    raisedTo: hold.raisedTo,
    until: new Date(hold.until).toISOString(),
  });
}

const groupOf = (apiVersion: string | undefined) =>
  apiVersion?.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';

/** The HPA whose scaleTargetRef is this workload, if one owns its replica count. */
export function autoscalerOf(
  autoscalers: HorizontalPodAutoscaler[],
  workload: WorkloadRef,
): HorizontalPodAutoscaler | undefined {
  const group = workload.kind === 'Deployment' ? 'apps' : 'argoproj.io';
  return autoscalers.find(({ spec: { scaleTargetRef: ref } }) => {
    if (ref.kind !== workload.kind || ref.name !== workload.name) return false;
    return ref.apiVersion === undefined || groupOf(ref.apiVersion) === group;
  });
}
