import type { Logger } from 'pino';
import type { Counter, Histogram, Registry } from 'prom-client';
import { counter, gauge, histogram } from '../../platform/metrics/metrics-registry.ts';
import type { WebhookAlert } from './alertmanager-payload.ts';
import type { KubernetesApi, WorkloadRef } from './remediation/kubernetes-api.ts';
import {
  type HealthObservation,
  isReady,
  observeWorkload,
  restartedSince,
} from './remediation/workload-health.ts';

/** From seconds (a flapping check) to a day (a weekend outage). */
export const MTTR_BUCKETS = [5, 15, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 14_400, 43_200, 86_400];

export const MTTR_DEFINITION =
  'first failing signal (the alert startsAt) to the workload healthy again (ready replicas = desired, no container restart for MTTR_STABLE_S), observed through the Kubernetes API';

const repairHistogram = (registry: Registry): Histogram<'namespace' | 'workload'> =>
  histogram(
    registry,
    'workload_mttr_seconds',
    `Time to repair per incident: ${MTTR_DEFINITION}.`,
    ['namespace', 'workload'],
    MTTR_BUCKETS,
  );

const incidentsCounter = (registry: Registry): Counter<'outcome'> =>
  counter(
    registry,
    'workload_incidents_total',
    'Incidents watched to their end, by outcome (recovered, unrecovered).',
    ['outcome'],
  );

/** How long alerts stayed open (startsAt to endsAt): the rule's window keeps them open after the repair. */
const alertOpenHistogram = (registry: Registry): Histogram<'alertname'> =>
  histogram(
    registry,
    'alert_open_seconds',
    'Time from an alert starting (startsAt) to its resolution (endsAt), per alert name; not the time to repair.',
    ['alertname'],
    MTTR_BUCKETS,
  );

/** Read from the tracker at scrape time: the window moves on between incidents. */
function windowGauge(registry: Registry, tracker: MttrTracker): void {
  gauge(
    registry,
    'workload_mttr_window_seconds',
    'Time to repair over the last MTTR_WINDOW_S, by quantile (0.5, 0.9); absent when no incident ended in it.',
    ['quantile'],
    function collect() {
      this.reset();
      const overall = tracker.summary().overall;
      if (!overall) return;
      this.set({ quantile: '0.5' }, overall.p50_seconds);
      this.set({ quantile: '0.9' }, overall.p90_seconds);
    },
  );
}

export interface MttrSettings {
  /** Poll interval of the Kubernetes API while an incident is open. */
  pollIntervalMs: number;
  /** How long the workload must stay ready with no restart before it counts as repaired (from the first such look). */
  stableMs: number;
  /** Give up watching an incident after this long (counted as unrecovered). */
  watchMaxMs: number;
  /** Percentiles cover incidents that ended within this window. */
  windowMs: number;
  /** Incidents kept for the percentiles. */
  samplesKept: number;
}

interface Sample {
  workload: string;
  alertname: string;
  startedAt: number;
  recoveredAt: number;
  seconds: number;
}

interface Incident {
  workload: WorkloadRef;
  target: string;
  alertname: string;
  startedAt: number;
  openedAt: number;
  last?: HealthObservation;
  healthySince?: number;
  closed: boolean;
  checking?: Promise<void>;
  wake?: () => void;
  done: Promise<Sample | undefined>;
  finish: (sample: Sample | undefined) => void;
}

export interface MttrSummaryEntry {
  incidents: number;
  mean_seconds: number;
  p50_seconds: number;
  p90_seconds: number;
  max_seconds: number;
  last_recovered_at: string;
}

export interface MttrSummary {
  definition: string;
  window_seconds: number;
  overall: MttrSummaryEntry | null;
  workloads: Record<string, MttrSummaryEntry>;
  open: { workload: string; alertname: string; started_at: string; healthy_since: string | null }[];
  recent: {
    workload: string;
    alertname: string;
    started_at: string;
    recovered_at: string;
    seconds: number;
  }[];
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? 0;
}

const round = (value: number) => Math.round(value * 1000) / 1000;
const iso = (ms: number) => new Date(ms).toISOString();

function summarise(samples: Sample[]): MttrSummaryEntry {
  const seconds = samples.map((sample) => sample.seconds).sort((a, b) => a - b);
  return {
    incidents: seconds.length,
    mean_seconds: round(seconds.reduce((sum, value) => sum + value, 0) / seconds.length),
    p50_seconds: round(quantile(seconds, 0.5)),
    p90_seconds: round(quantile(seconds, 0.9)),
    max_seconds: round(seconds.at(-1) ?? 0),
    last_recovered_at: iso(Math.max(...samples.map((sample) => sample.recoveredAt))),
  };
}

const describe = (workload: WorkloadRef) => `${workload.kind} ${workload.namespace}/${workload.name}`;

/**
 * Mean time to repair, per incident: from the first failing signal (the earliest `startsAt` of the alerts on one
 * workload) until the Kubernetes API shows it healthy again: ready replicas back to desired, and no container
 * restart for `stableMs`; the repair time is the first look of that healthy stretch. Alert resolution is no
 * measure of it: the restart rule looks back 15 minutes, so the alert stays open long after the pods recovered.
 * Each open incident is polled by a bounded loop; a resolved notice for one of its pods looks at once.
 */
export class MttrTracker {
  readonly #kube: KubernetesApi;
  readonly #logger: Logger;
  readonly #settings: MttrSettings;
  readonly #now: () => number;
  readonly #histogram: Histogram<'namespace' | 'workload'>;
  readonly #alertOpen: Histogram<'alertname'>;
  readonly #incidentsTotal: Counter<'outcome'>;
  readonly #incidents = new Map<string, Incident>();
  /** `namespace/pod` of each alerting pod, to the incident it belongs to. */
  readonly #pods = new Map<string, string>();
  /** When each workload last recovered: alerts that started before it belong to that ended incident. */
  readonly #recoveredAt = new Map<string, number>();
  readonly #samples: Sample[] = [];
  readonly #countedAlerts = new Set<string>();

  constructor(options: {
    kubernetes: KubernetesApi;
    logger: Logger;
    /** The relay's registry; one tracker reports in it. */
    metrics: Registry;
    settings: MttrSettings;
    now?: () => number;
  }) {
    this.#kube = options.kubernetes;
    this.#logger = options.logger;
    this.#settings = options.settings;
    this.#now = options.now ?? Date.now;
    this.#histogram = repairHistogram(options.metrics);
    this.#alertOpen = alertOpenHistogram(options.metrics);
    this.#incidentsTotal = incidentsCounter(options.metrics);
    windowGauge(options.metrics, this);
  }

  /** A firing alert on a pod of `workload`: opens an incident, or moves an open one's start earlier. */
  open(workload: WorkloadRef, alert: WebhookAlert): void {
    const target = describe(workload);
    const startedAt = Date.parse(alert.startsAt);
    if (!Number.isFinite(startedAt)) return;
    const { namespace, pod } = alert.labels;
    if (namespace && pod) this.#pods.set(`${namespace}/${pod}`, target);
    const open = this.#incidents.get(target);
    if (open) {
      open.startedAt = Math.min(open.startedAt, startedAt);
      return;
    }
    if (startedAt <= (this.#recoveredAt.get(target) ?? Number.NEGATIVE_INFINITY)) return;
    let finish: (sample: Sample | undefined) => void = () => {};
    const done = new Promise<Sample | undefined>((resolve) => {
      finish = resolve;
    });
    const incident: Incident = {
      workload,
      target,
      alertname: alert.labels.alertname,
      startedAt,
      openedAt: this.#now(),
      closed: false,
      done,
      finish,
    };
    this.#incidents.set(target, incident);
    this.#logger.info({ workload: target, started_at: iso(startedAt) }, `incident opened on ${target}`);
    void this.#watch(incident);
  }

  /** Resolved notices: alert open time is recorded, and the incidents of their pods are looked at now. */
  async resolved(alerts: WebhookAlert[]): Promise<number> {
    let recovered = 0;
    for (const alert of alerts) {
      if (alert.status !== 'resolved') continue;
      this.#recordAlertOpen(alert);
      const { namespace, pod } = alert.labels;
      const target = namespace && pod ? this.#pods.get(`${namespace}/${pod}`) : undefined;
      const incident = target ? this.#incidents.get(target) : undefined;
      if (!incident) continue;
      await this.#check(incident);
      if (incident.closed) recovered += 1;
    }
    return recovered;
  }

  /** Settles when the workload's open incident ends: its sample, or undefined if it was given up or none is open. */
  whenClosed(workload: WorkloadRef): Promise<Sample | undefined> {
    return this.#incidents.get(describe(workload))?.done ?? Promise.resolve(undefined);
  }

  close(): void {
    for (const incident of this.#incidents.values()) {
      incident.closed = true;
      incident.wake?.();
      incident.finish(undefined);
    }
    this.#incidents.clear();
  }

  summary(): MttrSummary {
    const since = this.#now() - this.#settings.windowMs;
    const inWindow = this.#samples.filter((sample) => sample.recoveredAt >= since);
    const byWorkload = new Map<string, Sample[]>();
    for (const sample of inWindow)
      byWorkload.set(sample.workload, [...(byWorkload.get(sample.workload) ?? []), sample]);
    return {
      definition: MTTR_DEFINITION,
      window_seconds: this.#settings.windowMs / 1000,
      overall: inWindow.length > 0 ? summarise(inWindow) : null,
      workloads: Object.fromEntries(
        [...byWorkload]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([target, samples]) => [target, summarise(samples)]),
      ),
      open: [...this.#incidents.values()].map((incident) => ({
        workload: incident.target,
        alertname: incident.alertname,
        started_at: iso(incident.startedAt),
        healthy_since: incident.healthySince === undefined ? null : iso(incident.healthySince),
      })),
      recent: this.#samples.slice(-20).map((sample) => ({
        workload: sample.workload,
        alertname: sample.alertname,
        started_at: iso(sample.startedAt),
        recovered_at: iso(sample.recoveredAt),
        seconds: round(sample.seconds),
      })),
    };
  }

  #recordAlertOpen(alert: WebhookAlert): void {
    const started = Date.parse(alert.startsAt);
    const ended = Date.parse(alert.endsAt);
    if (!Number.isFinite(started) || !Number.isFinite(ended) || ended < started) return;
    const key = `${alert.fingerprint}@${alert.startsAt}`;
    if (this.#countedAlerts.has(key)) return;
    this.#countedAlerts.add(key);
    if (this.#countedAlerts.size > 10_000)
      this.#countedAlerts.delete(this.#countedAlerts.values().next().value ?? '');
    this.#alertOpen.observe({ alertname: alert.labels.alertname }, (ended - started) / 1000);
  }

  /** Looks one poll interval after the alert (the action has just been taken), then every interval, up to watchMaxMs. */
  async #watch(incident: Incident): Promise<void> {
    while (!incident.closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#settings.pollIntervalMs);
        timer.unref();
        incident.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (incident.closed) return;
      await this.#check(incident);
      if (incident.closed) return;
      if (this.#now() - incident.openedAt >= this.#settings.watchMaxMs) {
        this.#end(incident, undefined);
        return;
      }
    }
  }

  /** One look at the workload; concurrent callers share it. */
  #check(incident: Incident): Promise<void> {
    incident.checking ??= this.#look(incident).finally(() => {
      incident.checking = undefined;
    });
    return incident.checking;
  }

  async #look(incident: Incident): Promise<void> {
    let observation: HealthObservation;
    try {
      observation = await observeWorkload(this.#kube, incident.workload, this.#now);
    } catch (error) {
      this.#logger.debug({ workload: incident.target, error }, `cannot observe ${incident.target}`);
      return;
    }
    if (incident.closed) return;
    const previous = incident.last;
    incident.last = observation;
    const restarted = previous ? restartedSince(previous, observation) : [];
    if (!isReady(observation) || restarted.length > 0) {
      incident.healthySince = undefined;
      return;
    }
    incident.healthySince ??= observation.at;
    // "No restart since" needs a before and an after, unless no stable stretch is asked for.
    const { stableMs } = this.#settings;
    if ((previous || stableMs === 0) && observation.at - incident.healthySince >= stableMs)
      this.#end(incident, incident.healthySince);
  }

  #end(incident: Incident, recoveredAt: number | undefined): void {
    incident.closed = true;
    incident.wake?.();
    this.#incidents.delete(incident.target);
    for (const [pod, target] of this.#pods) if (target === incident.target) this.#pods.delete(pod);
    if (recoveredAt === undefined) {
      this.#incidentsTotal.inc({ outcome: 'unrecovered' });
      this.#logger.warn(
        { workload: incident.target, started_at: iso(incident.startedAt) },
        `incident on ${incident.target} not recovered after ${Math.round(this.#settings.watchMaxMs / 1000)} s of watching`,
      );
      incident.finish(undefined);
      return;
    }
    const sample: Sample = {
      workload: incident.target,
      alertname: incident.alertname,
      startedAt: incident.startedAt,
      recoveredAt,
      seconds: Math.max(0, recoveredAt - incident.startedAt) / 1000,
    };
    this.#recoveredAt.set(incident.target, recoveredAt);
    this.#samples.push(sample);
    if (this.#samples.length > this.#settings.samplesKept) this.#samples.shift();
    this.#histogram.observe(
      { namespace: incident.workload.namespace, workload: incident.workload.name },
      sample.seconds,
    );
    this.#incidentsTotal.inc({ outcome: 'recovered' });
    this.#logger.info(
      {
        workload: incident.target,
        started_at: iso(sample.startedAt),
        recovered_at: iso(recoveredAt),
        mttr_seconds: round(sample.seconds),
      },
      `workload recovered: ${incident.target} healthy ${round(sample.seconds)} s after the first failing signal`,
    );
    incident.finish(sample);
  }
}
