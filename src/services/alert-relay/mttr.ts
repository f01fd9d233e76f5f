import type { Histogram } from 'prom-client';
import { sharedHistogram } from '../../platform/metrics/metrics-registry.ts';
import { occurrenceKey, type WebhookAlert } from './alertmanager-payload.ts';
import { ExpiringSet } from './expiring-set.ts';

/** From seconds (a flapping check) to a day (a weekend outage). */
export const MTTR_BUCKETS = [5, 15, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 14_400, 43_200, 86_400];

function mttrHistogram(): Histogram<'alertname'> {
  return sharedHistogram(
    'alert_mttr_seconds',
    'Time from an alert starting (startsAt) to its resolution (endsAt), per alert name.',
    ['alertname'],
    MTTR_BUCKETS,
  );
}

export interface MttrSummaryEntry {
  resolved: number;
  mean_seconds: number;
  p50_seconds: number;
  p90_seconds: number;
  max_seconds: number;
  last_resolved_at: string;
}

export interface MttrSummary {
  overall: MttrSummaryEntry | null;
  alerts: Record<string, MttrSummaryEntry>;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? 0;
}

const round = (value: number) => Math.round(value * 1000) / 1000;

function summarise(samples: { seconds: number; resolvedAt: number }[]): MttrSummaryEntry {
  const seconds = samples.map((sample) => sample.seconds).sort((a, b) => a - b);
  return {
    resolved: seconds.length,
    mean_seconds: round(seconds.reduce((sum, value) => sum + value, 0) / seconds.length),
    p50_seconds: round(quantile(seconds, 0.5)),
    p90_seconds: round(quantile(seconds, 0.9)),
    max_seconds: round(seconds.at(-1) ?? 0),
    last_resolved_at: new Date(Math.max(...samples.map((sample) => sample.resolvedAt))).toISOString(),
  };
}

/**
 * Mean time to resolve: each resolved occurrence (fingerprint + startsAt) counts once, however often Alertmanager
 * repeats the resolved notice or how many receivers carry it. The histogram is the durable record (Prometheus
 * scrapes it); the summary keeps the last samples per alert name in memory for GET /mttr.
 */
export class MttrTracker {
  readonly #histogram = mttrHistogram();
  readonly #counted = new ExpiringSet({ ttlMs: () => 7 * 24 * 3_600_000 });
  readonly #samples = new Map<string, { seconds: number; resolvedAt: number }[]>();
  readonly #keep: number;

  constructor(options: { samplesKept: number }) {
    this.#keep = options.samplesKept;
  }

  /** Records resolved alerts; returns how many were new. */
  record(alerts: WebhookAlert[]): number {
    let added = 0;
    for (const alert of alerts) {
      if (alert.status !== 'resolved') continue;
      const started = Date.parse(alert.startsAt);
      const ended = Date.parse(alert.endsAt);
      if (!Number.isFinite(started) || !Number.isFinite(ended) || ended < started) continue;
      if (!this.#counted.claim(occurrenceKey(alert))) continue;
      const seconds = (ended - started) / 1000;
      const { alertname } = alert.labels;
      this.#histogram.observe({ alertname }, seconds);
      const list = this.#samples.get(alertname) ?? [];
      list.push({ seconds, resolvedAt: ended });
      if (list.length > this.#keep) list.shift();
      this.#samples.set(alertname, list);
      added += 1;
    }
    return added;
  }

  summary(): MttrSummary {
    const alerts: Record<string, MttrSummaryEntry> = {};
    const all: { seconds: number; resolvedAt: number }[] = [];
    for (const [alertname, samples] of [...this.#samples].sort(([a], [b]) => a.localeCompare(b))) {
      alerts[alertname] = summarise(samples);
      all.push(...samples);
    }
    return { overall: all.length > 0 ? summarise(all) : null, alerts };
  }
}
