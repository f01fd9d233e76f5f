import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import type { Logger } from 'pino';
import type { Counter, Registry } from 'prom-client';
import { counter } from '../../../platform/metrics/metrics-registry.ts';
import { occurrenceKey, type WebhookAlert } from '../alertmanager-payload.ts';
import type { REMEDIATION_MODES } from '../config.ts';
import { ExpiringSet } from '../expiring-set.ts';
import { ActionBudget } from './action-budget.ts';
import { autoscalerOf, FLOOR_HOLD_ANNOTATION, readFloorHold, writeFloorHold } from './autoscaler-floor.ts';
import { FailingPods } from './failing-pods.ts';
import {
  type HorizontalPodAutoscaler,
  type KubernetesApi,
  KubernetesApiError,
  type WorkloadRef,
} from './kubernetes-api.ts';

export interface RemediationSettings {
  mode: (typeof REMEDIATION_MODES)[number];
  alertName: string;
  /** Namespaces the relay may act in; alerts from others are counted and logged, never acted on. */
  allowedNamespaces: readonly string[];
  maxReplicas: number;
  scaleCooldownMs: number;
  maxActionsPerHour: number;
  cordonPodThreshold: number;
  minSchedulableNodes: number;
  maxCordonedNodes: number;
  failingPodTtlMs: number;
  /** Attempts after the first for a failed write (and the reads it rests on). */
  writeRetries: number;
  retryInitialDelayMs: number;
  retryMaxDelayMs: number;
}

/** What another attempt can fix: no answer, a conflict with a concurrent writer, throttling, a server error. */
const RETRYABLE_STATUS = new Set([409, 429, 500, 502, 503, 504]);
export const isRetryableKubernetesError = (error: Error) =>
  error instanceof KubernetesApiError && (error.status === undefined || RETRYABLE_STATUS.has(error.status));

export type RemediationAction = 'scale_up' | 'cordon' | 'restore_floor';
export type RemediationResult =
  | 'success'
  | 'dry_run'
  | 'failed'
  | 'duplicate'
  | 'cooldown'
  | 'at_max'
  | 'budget_exhausted'
  | 'quota'
  | 'already_cordoned'
  | 'no_owner'
  | 'namespace_not_allowed'
  | 'superseded';

export interface RemediationRecord {
  action: RemediationAction;
  result: RemediationResult;
  /** `Deployment users/user-service`, `Node node-a` or `HorizontalPodAutoscaler users/user-service`. */
  target: string;
  detail: string;
  fingerprint: string;
}

const remediationsCounter = (registry: Registry) =>
  counter(registry, 'remediations_total', 'Self-healing actions by action and result.', ['action', 'result']);

const ACTED = new Set<RemediationResult>(['success', 'dry_run']);

export interface RemediatorOptions {
  kubernetes: KubernetesApi;
  logger: Logger;
  /** The relay's registry, where `remediations_total` is reported. */
  metrics: Registry;
  /** Read for every alert, so reloaded settings (dry-run on/off, budget) apply at once. */
  settings: () => RemediationSettings;
  /** A firing alert traced to its workload (whatever is then done or refused): where an incident starts. */
  onWorkloadAlert?: (workload: WorkloadRef, alert: WebhookAlert) => void;
  now?: () => number;
}

const describe = (workload: WorkloadRef) => `${workload.kind} ${workload.namespace}/${workload.name}`;

/**
 * Guarded self-healing for the pod-restart alert. For each new firing occurrence it scales the pod's owning
 * Deployment or Rollout up by one through the scale subresource, and cordons the pod's node once enough failing
 * pods sit on it. Guard rails, checked before any write: the same occurrence acts once, per-workload cooldown,
 * replica cap, an hourly action budget, and a cordon quota that never leaves fewer than the minimum schedulable
 * nodes. Dry-run goes through every guard (and spends budget and cooldown) but writes nothing. Alerts are handled
 * one at a time, so two concurrent webhooks cannot both pass a guard.
 */
export class Remediator {
  readonly #options: RemediatorOptions;
  readonly #remediations: Counter<'action' | 'result'>;
  readonly #now: () => number;
  readonly #seen: ExpiringSet;
  readonly #cordoned: ExpiringSet;
  readonly #cooldowns = new Map<string, number>();
  readonly #budget: ActionBudget;
  readonly #failingPods: FailingPods;
  /** Namespaces where this process raised an HPA floor, swept for restores besides the allowed ones. */
  readonly #raisedIn = new Set<string>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: RemediatorOptions) {
    this.#options = options;
    this.#remediations = remediationsCounter(options.metrics);
    this.#now = options.now ?? Date.now;
    const settings = options.settings;
    this.#seen = new ExpiringSet({ ttlMs: () => 24 * 3_600_000, now: this.#now });
    this.#cordoned = new ExpiringSet({ ttlMs: () => settings().failingPodTtlMs, now: this.#now });
    this.#budget = new ActionBudget({ windowMs: 3_600_000, now: this.#now });
    this.#failingPods = new FailingPods({ ttlMs: () => settings().failingPodTtlMs, now: this.#now });
  }

  /** Handles the alerts of one webhook; resolves with what was done (or refused) for each. */
  handle(alerts: WebhookAlert[]): Promise<RemediationRecord[]> {
    return this.#serially(() => this.#handleAll(alerts));
  }

  /**
   * Puts back every HPA floor this relay raised whose cooldown is over. Runs in every mode: it only undoes the
   * relay's own writes. A floor someone changed since is left as it is; only the relay's note is removed.
   */
  restoreFloors(): Promise<RemediationRecord[]> {
    return this.#serially(() => this.#restoreFloors());
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #handleAll(alerts: WebhookAlert[]): Promise<RemediationRecord[]> {
    const records: RemediationRecord[] = [];
    const settings = this.#options.settings();
    if (settings.mode === 'off') return records;
    for (const alert of alerts) {
      if (alert.labels.alertname !== settings.alertName) continue;
      const { namespace, pod } = alert.labels;
      if (alert.status === 'resolved') {
        if (namespace && pod) this.#failingPods.forget(`${namespace}/${pod}`);
        continue;
      }
      const add = (record: RemediationRecord) => records.push(this.#record(record, settings));
      if (namespace && !settings.allowedNamespaces.includes(namespace)) {
        // Checked before the occurrence is claimed, so widening the allow-list live lets the next repeat act.
        add({
          action: 'scale_up',
          result: 'namespace_not_allowed',
          target: `Pod ${namespace}/${pod ?? '?'}`,
          detail: `namespace ${namespace} is not in REMEDIATION_NAMESPACES (${settings.allowedNamespaces.join(',') || 'empty'})`,
          fingerprint: alert.fingerprint,
        });
        continue;
      }
      await this.#handleFiring(alert, settings, add);
    }
    return records;
  }

  async #handleFiring(
    alert: WebhookAlert,
    settings: RemediationSettings,
    add: (record: RemediationRecord) => void,
  ): Promise<void> {
    const { fingerprint } = alert;
    const { namespace, pod: podName } = alert.labels;
    const podTarget = `Pod ${namespace ?? '?'}/${podName ?? '?'}`;
    if (!this.#seen.claim(occurrenceKey(alert))) {
      add({
        action: 'scale_up',
        result: 'duplicate',
        target: podTarget,
        detail: 'this alert occurrence was already handled',
        fingerprint,
      });
      return;
    }
    if (!namespace || !podName) {
      add({
        action: 'scale_up',
        result: 'failed',
        target: podTarget,
        detail: 'the alert has no namespace/pod labels',
        fingerprint,
      });
      return;
    }
    const kube = this.#options.kubernetes;
    let node = alert.labels.node;
    try {
      const pod = await kube.getPod(namespace, podName);
      node ??= pod.spec?.nodeName;
      const workload = await this.#owningWorkload(namespace, pod.metadata.ownerReferences ?? []);
      if (!workload) {
        add({
          action: 'scale_up',
          result: 'no_owner',
          target: podTarget,
          detail: 'not owned by a Deployment or Rollout',
          fingerprint,
        });
      } else {
        this.#options.onWorkloadAlert?.(workload, alert);
        add(await this.#scaleUp(workload, settings, fingerprint));
      }
    } catch (error) {
      // Nothing was changed (a read or every write attempt failed): forget the occurrence, so Alertmanager's next
      // repeat tries again.
      this.#seen.release(occurrenceKey(alert));
      add({
        action: 'scale_up',
        result: 'failed',
        target: podTarget,
        detail: (error as Error).message,
        fingerprint,
      });
    }
    if (node) {
      this.#failingPods.note(node, `${namespace}/${podName}`);
      const record = await this.#maybeCordon(node, settings, fingerprint);
      if (record) add(record);
    }
  }

  async #owningWorkload(
    namespace: string,
    owners: { kind: string; name: string; controller?: boolean }[],
  ): Promise<WorkloadRef | undefined> {
    const replicaSet = owners.find((owner) => owner.kind === 'ReplicaSet');
    if (!replicaSet) return undefined;
    const rs = await this.#options.kubernetes.getReplicaSet(namespace, replicaSet.name);
    const owner = (rs.metadata.ownerReferences ?? []).find(
      (candidate) => candidate.kind === 'Deployment' || candidate.kind === 'Rollout',
    );
    if (!owner) return undefined;
    return { kind: owner.kind as WorkloadRef['kind'], namespace, name: owner.name };
  }

  /**
   * Each attempt reads afresh (a 409 means someone else wrote in between, so the decision is made again on what is
   * there now) and only its write may throw; the cooldown starts once a write went through.
   */
  #withRetries<T>(settings: RemediationSettings, attempt: () => Promise<T>): Promise<T> {
    return retry(handleWhen(isRetryableKubernetesError), {
      maxAttempts: settings.writeRetries,
      backoff: new ExponentialBackoff({
        initialDelay: settings.retryInitialDelayMs,
        maxDelay: settings.retryMaxDelayMs,
      }),
    }).execute(attempt);
  }

  async #scaleUp(
    workload: WorkloadRef,
    settings: RemediationSettings,
    fingerprint: string,
  ): Promise<RemediationRecord> {
    const target = describe(workload);
    const base = { action: 'scale_up' as const, target, fingerprint };
    const lastAt = this.#cooldowns.get(target);
    if (lastAt !== undefined && this.#now() - lastAt < settings.scaleCooldownMs) {
      const left = Math.ceil((settings.scaleCooldownMs - (this.#now() - lastAt)) / 1000);
      return {
        ...base,
        result: 'cooldown',
        detail: `scaled ${Math.round((this.#now() - lastAt) / 1000)} s ago; ${left} s of cooldown left`,
      };
    }
    return this.#withRetries(settings, async () => {
      const kube = this.#options.kubernetes;
      const autoscaler = autoscalerOf(await kube.listHorizontalPodAutoscalers(workload.namespace), workload);
      if (autoscaler) return this.#raiseFloor(workload, autoscaler, settings, fingerprint);
      const scale = await kube.getScale(workload);
      const current = scale.spec.replicas ?? 0;
      if (current >= settings.maxReplicas) {
        return { ...base, result: 'at_max', detail: `${current} replicas, cap ${settings.maxReplicas}` };
      }
      const detail = `replicas ${current} -> ${current + 1}`;
      return this.#act(settings, target, base, `would scale: ${detail}`, detail, () =>
        kube.patchScale(workload, current + 1, scale.metadata.resourceVersion),
      );
    });
  }

  /**
   * Spends the budget and writes (or, in dry-run, only says what it would write). A failed write gives the budget
   * back and starts no cooldown, so the retry, or Alertmanager's next repeat, can still act.
   */
  async #act(
    settings: RemediationSettings,
    cooldownKey: string | undefined,
    base: Omit<RemediationRecord, 'result' | 'detail'>,
    dryRunDetail: string,
    detail: string,
    write: () => Promise<unknown>,
  ): Promise<RemediationRecord> {
    if (!this.#budget.spend(settings.maxActionsPerHour)) {
      return {
        ...base,
        result: 'budget_exhausted',
        detail: `${settings.maxActionsPerHour} actions in the last hour`,
      };
    }
    if (settings.mode !== 'dry-run') {
      try {
        await write();
      } catch (error) {
        this.#budget.refund();
        throw error;
      }
    }
    if (cooldownKey) this.#cooldowns.set(cooldownKey, this.#now());
    if (settings.mode === 'dry-run') return { ...base, result: 'dry_run', detail: dryRunDetail };
    return { ...base, result: 'success', detail };
  }

  /**
   * An HPA owns the replica count: scaling the workload would be undone at its next sync (at once when it is at
   * maxReplicas), so the HPA's floor goes up instead, noted on the HPA for restoring after the cooldown.
   */
  async #raiseFloor(
    workload: WorkloadRef,
    hpa: HorizontalPodAutoscaler,
    settings: RemediationSettings,
    fingerprint: string,
  ): Promise<RemediationRecord> {
    const target = describe(workload);
    const base = { action: 'scale_up' as const, target, fingerprint };
    const { namespace = workload.namespace, name } = hpa.metadata;
    const via = `HorizontalPodAutoscaler ${namespace}/${name}`;
    const now = this.#now();
    const hold = readFloorHold(hpa);
    if (hold && hold.until > now) {
      return {
        ...base,
        result: 'cooldown',
        detail: `${via} floor raised to ${hold.raisedTo} until ${new Date(hold.until).toISOString()}`,
      };
    }
    const floor = hpa.spec.minReplicas ?? 1;
    const current = Math.max(hpa.status?.currentReplicas ?? floor, floor);
    const cap = Math.min(settings.maxReplicas, hpa.spec.maxReplicas);
    if (current + 1 > cap) {
      return {
        ...base,
        result: 'at_max',
        detail: `${current} replicas, cap ${cap} (${via} maxReplicas ${hpa.spec.maxReplicas})`,
      };
    }
    const next = current + 1;
    const detail = `${via} minReplicas ${floor} -> ${next} (replicas ${current}) for ${Math.round(settings.scaleCooldownMs / 1000)} s`;
    const raised = await this.#act(settings, target, base, `would raise: ${detail}`, detail, () =>
      this.#options.kubernetes.patchHorizontalPodAutoscaler(namespace, name, {
        metadata: {
          resourceVersion: hpa.metadata.resourceVersion,
          annotations: {
            [FLOOR_HOLD_ANNOTATION]: writeFloorHold({
              restoreTo: hold?.restoreTo ?? floor,
              raisedTo: next,
              until: now + settings.scaleCooldownMs,
            }),
          },
        },
        spec: { minReplicas: next },
      }),
    );
    if (raised.result === 'success') this.#raisedIn.add(namespace);
    return raised;
  }

  async #restoreFloors(): Promise<RemediationRecord[]> {
    const records: RemediationRecord[] = [];
    const settings = this.#options.settings();
    const kube = this.#options.kubernetes;
    const namespaces = new Set([...settings.allowedNamespaces, ...this.#raisedIn]);
    for (const namespace of [...namespaces].sort()) {
      let autoscalers: HorizontalPodAutoscaler[];
      try {
        autoscalers = await kube.listHorizontalPodAutoscalers(namespace);
      } catch (error) {
        this.#options.logger.warn({ namespace, error }, `cannot list HPAs in ${namespace} to restore floors`);
        continue;
      }
      let pending = false;
      for (const hpa of autoscalers) {
        const hold = readFloorHold(hpa);
        if (!hold) continue;
        if (hold.until > this.#now()) {
          pending = true;
          continue;
        }
        const record = await this.#restoreFloor(namespace, hpa, hold.restoreTo, hold.raisedTo);
        if (record.result === 'failed') pending = true;
        records.push(this.#record(record, settings));
      }
      if (!pending) this.#raisedIn.delete(namespace);
    }
    return records;
  }

  async #restoreFloor(
    namespace: string,
    hpa: HorizontalPodAutoscaler,
    restoreTo: number,
    raisedTo: number,
  ): Promise<RemediationRecord> {
    const base = {
      action: 'restore_floor' as const,
      target: `HorizontalPodAutoscaler ${namespace}/${hpa.metadata.name}`,
      fingerprint: '',
    };
    const floor = hpa.spec.minReplicas ?? 1;
    const superseded = floor !== raisedTo;
    const patch: Record<string, unknown> = {
      metadata: {
        resourceVersion: hpa.metadata.resourceVersion,
        annotations: { [FLOOR_HOLD_ANNOTATION]: null },
      },
    };
    if (!superseded) patch.spec = { minReplicas: Math.min(restoreTo, hpa.spec.maxReplicas) };
    try {
      await this.#options.kubernetes.patchHorizontalPodAutoscaler(namespace, hpa.metadata.name, patch);
    } catch (error) {
      return {
        ...base,
        result: 'failed',
        detail: `minReplicas ${floor} -> ${restoreTo}: ${(error as Error).message}`,
      };
    }
    if (superseded)
      return {
        ...base,
        result: 'superseded',
        detail: `minReplicas changed to ${floor} since; left as it is`,
      };
    return { ...base, result: 'success', detail: `minReplicas ${floor} -> ${restoreTo}` };
  }

  async #maybeCordon(
    node: string,
    settings: RemediationSettings,
    fingerprint: string,
  ): Promise<RemediationRecord | undefined> {
    const failing = this.#failingPods.count(node);
    if (failing < settings.cordonPodThreshold) return undefined;
    const target = `Node ${node}`;
    const base = { action: 'cordon' as const, target, fingerprint };
    if (this.#cordoned.has(node))
      return { ...base, result: 'duplicate', detail: 'already cordoned by this relay' };
    try {
      return await this.#withRetries(settings, () => this.#cordon(node, failing, settings, base));
    } catch (error) {
      return { ...base, result: 'failed', detail: (error as Error).message };
    }
  }

  async #cordon(
    node: string,
    failing: number,
    settings: RemediationSettings,
    base: Omit<RemediationRecord, 'result' | 'detail'>,
  ): Promise<RemediationRecord> {
    const nodes = await this.#options.kubernetes.listNodes();
    const found = nodes.find((candidate) => candidate.metadata.name === node);
    if (!found) return { ...base, result: 'failed', detail: 'node not found' };
    if (found.spec?.unschedulable) {
      this.#cordoned.claim(node);
      return { ...base, result: 'already_cordoned', detail: 'node is already unschedulable' };
    }
    const schedulable = nodes.filter((candidate) => !candidate.spec?.unschedulable).length;
    const unschedulable = nodes.length - schedulable;
    if (schedulable - 1 < settings.minSchedulableNodes) {
      return {
        ...base,
        result: 'quota',
        detail: `${schedulable} schedulable nodes; at least ${settings.minSchedulableNodes} must remain`,
      };
    }
    if (unschedulable >= settings.maxCordonedNodes) {
      return {
        ...base,
        result: 'quota',
        detail: `${unschedulable} nodes already unschedulable (max ${settings.maxCordonedNodes})`,
      };
    }
    const detail = `${failing} failing pods on the node; ${schedulable - 1} schedulable nodes remain`;
    const record = await this.#act(settings, undefined, base, `would cordon: ${detail}`, detail, () =>
      this.#options.kubernetes.cordonNode(node),
    );
    if (record.result === 'success' || record.result === 'dry_run') this.#cordoned.claim(node);
    return record;
  }

  #record(record: RemediationRecord, settings: RemediationSettings): RemediationRecord {
    this.#remediations.inc({ action: record.action, result: record.result });
    const fields = { ...record, mode: settings.mode };
    const message = `remediation ${record.action} ${record.target}: ${record.result} (${record.detail})`;
    if (ACTED.has(record.result) || record.result === 'duplicate') this.#options.logger.info(fields, message);
    else this.#options.logger.warn(fields, message);
    return record;
  }
}
