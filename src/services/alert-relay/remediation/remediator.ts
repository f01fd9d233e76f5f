import type { Logger } from 'pino';
import { sharedCounter } from '../../../platform/resilience/prom-metric.ts';
import { occurrenceKey, type WebhookAlert } from '../alertmanager-payload.ts';
import type { REMEDIATION_MODES } from '../config.ts';
import { ExpiringSet } from '../expiring-set.ts';
import { ActionBudget } from './action-budget.ts';
import { FailingPods } from './failing-pods.ts';
import type { KubernetesApi, WorkloadRef } from './kubernetes-api.ts';

export interface RemediationSettings {
  mode: (typeof REMEDIATION_MODES)[number];
  alertName: string;
  maxReplicas: number;
  scaleCooldownMs: number;
  maxActionsPerHour: number;
  cordonPodThreshold: number;
  minSchedulableNodes: number;
  maxCordonedNodes: number;
  failingPodTtlMs: number;
}

export type RemediationAction = 'scale_up' | 'cordon';
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
  | 'no_owner';

export interface RemediationRecord {
  action: RemediationAction;
  result: RemediationResult;
  /** `Deployment users/user-service` or `Node node-a`. */
  target: string;
  detail: string;
  fingerprint: string;
}

const remediationsCounter = () =>
  sharedCounter('remediations_total', 'Self-healing actions by action and result.', ['action', 'result']);

const ACTED = new Set<RemediationResult>(['success', 'dry_run']);

export interface RemediatorOptions {
  kubernetes: KubernetesApi;
  logger: Logger;
  /** Read for every alert, so reloaded settings (dry-run on/off, budget) apply at once. */
  settings: () => RemediationSettings;
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
  readonly #now: () => number;
  readonly #seen: ExpiringSet;
  readonly #cordoned: ExpiringSet;
  readonly #cooldowns = new Map<string, number>();
  readonly #budget: ActionBudget;
  readonly #failingPods: FailingPods;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: RemediatorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const settings = options.settings;
    this.#seen = new ExpiringSet({ ttlMs: () => 24 * 3_600_000, now: this.#now });
    this.#cordoned = new ExpiringSet({ ttlMs: () => settings().failingPodTtlMs, now: this.#now });
    this.#budget = new ActionBudget({ windowMs: 3_600_000, now: this.#now });
    this.#failingPods = new FailingPods({ ttlMs: () => settings().failingPodTtlMs, now: this.#now });
  }

  /** Handles the alerts of one webhook; resolves with what was done (or refused) for each. */
  handle(alerts: WebhookAlert[]): Promise<RemediationRecord[]> {
    const run = this.#queue.then(() => this.#handleAll(alerts));
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
      await this.#handleFiring(alert, settings, (record) => records.push(this.#record(record, settings)));
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
        add(await this.#scaleUp(workload, settings, fingerprint));
      }
    } catch (error) {
      // The cluster could not be read: forget the occurrence, so Alertmanager's next repeat tries again.
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
    const kube = this.#options.kubernetes;
    const scale = await kube.getScale(workload);
    const current = scale.spec.replicas ?? 0;
    if (current >= settings.maxReplicas) {
      return { ...base, result: 'at_max', detail: `${current} replicas, cap ${settings.maxReplicas}` };
    }
    if (!this.#budget.spend(settings.maxActionsPerHour)) {
      return {
        ...base,
        result: 'budget_exhausted',
        detail: `${settings.maxActionsPerHour} actions in the last hour`,
      };
    }
    this.#cooldowns.set(target, this.#now());
    const detail = `replicas ${current} -> ${current + 1}`;
    if (settings.mode === 'dry-run') return { ...base, result: 'dry_run', detail: `would scale: ${detail}` };
    try {
      await kube.patchScale(workload, current + 1, scale.metadata.resourceVersion);
      return { ...base, result: 'success', detail };
    } catch (error) {
      return { ...base, result: 'failed', detail: `${detail}: ${(error as Error).message}` };
    }
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
      if (!this.#budget.spend(settings.maxActionsPerHour)) {
        return {
          ...base,
          result: 'budget_exhausted',
          detail: `${settings.maxActionsPerHour} actions in the last hour`,
        };
      }
      this.#cordoned.claim(node);
      const detail = `${failing} failing pods on the node; ${schedulable - 1} schedulable nodes remain`;
      if (settings.mode === 'dry-run')
        return { ...base, result: 'dry_run', detail: `would cordon: ${detail}` };
      await this.#options.kubernetes.cordonNode(node);
      return { ...base, result: 'success', detail };
    } catch (error) {
      return { ...base, result: 'failed', detail: (error as Error).message };
    }
  }

  #record(record: RemediationRecord, settings: RemediationSettings): RemediationRecord {
    remediationsCounter().inc({ action: record.action, result: record.result });
    const fields = { ...record, mode: settings.mode };
    const message = `remediation ${record.action} ${record.target}: ${record.result} (${record.detail})`;
    if (ACTED.has(record.result) || record.result === 'duplicate') this.#options.logger.info(fields, message);
    else this.#options.logger.warn(fields, message);
    return record;
  }
}
