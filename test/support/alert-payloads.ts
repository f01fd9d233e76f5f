import { createHash } from 'node:crypto';
import type { WebhookAlert, WebhookPayload } from '../../src/services/alert-relay/alertmanager-payload.ts';

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** An alert as Alertmanager would carry it; `fingerprint` defaults to one derived from the labels. */
export function alert(
  labels: Record<string, string> & { alertname: string },
  options: {
    status?: 'firing' | 'resolved';
    startsAt?: string;
    endsAt?: string;
    annotations?: Record<string, string>;
    fingerprint?: string;
  } = {},
): WebhookAlert {
  const status = options.status ?? 'firing';
  return {
    status,
    labels,
    annotations: options.annotations ?? {
      summary: `${labels.alertname} on ${labels.pod ?? labels.service ?? 'the service'}`,
      description: 'test alert',
      runbook_url: `https://runbooks.example.com/${labels.alertname}`,
    },
    startsAt: options.startsAt ?? '2026-11-27T10:00:00Z',
    endsAt: options.endsAt ?? (status === 'resolved' ? '2026-11-27T10:05:00Z' : ZERO_TIME),
    generatorURL: 'http://prometheus.example.com/graph',
    fingerprint:
      options.fingerprint ?? createHash('sha256').update(JSON.stringify(labels)).digest('hex').slice(0, 16),
  };
}

/** PodRestartingTooOften for `pod`, the alert the relay remediates. */
export function podRestarting(
  pod: string,
  where: { namespace?: string; node?: string; startsAt?: string } = {},
): WebhookAlert {
  return alert(
    {
      alertname: 'PodRestartingTooOften',
      severity: 'critical',
      namespace: where.namespace ?? 'users',
      pod,
      node: where.node ?? 'node-a',
    },
    { startsAt: where.startsAt ?? '2026-11-27T10:00:00Z' },
  );
}

/** A version-4 webhook payload around `alerts`. */
export function payload(receiver: string, alerts: WebhookAlert[]): WebhookPayload {
  const status = alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved';
  return {
    version: '4',
    groupKey: `{}:{alertname="${alerts[0]?.labels.alertname}"}`,
    truncatedAlerts: 0,
    status,
    receiver,
    groupLabels: { alertname: alerts[0]?.labels.alertname ?? '' },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example.com',
    alerts,
  };
}
