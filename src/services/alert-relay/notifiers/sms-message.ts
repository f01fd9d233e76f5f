import type { WebhookAlert } from '../alertmanager-payload.ts';
import { type AlertBatch, alertSummary, cut } from './notifier.ts';

/** The three template variables every SMS template of the relay carries, in template order. */
export interface SmsParams {
  status: string;
  alert: string;
  summary: string;
}

/** One SMS per batch and status: on-call phones get one message, not one per alert. */
export function smsParams(alerts: WebhookAlert[], maxChars: number): SmsParams {
  const [first] = alerts;
  const names = [...new Set(alerts.map((alert) => alert.labels.alertname))];
  const more = alerts.length > 1 ? ` (+${alerts.length - 1})` : '';
  return {
    status: first?.status === 'resolved' ? 'RESOLVED' : 'FIRING',
    alert: cut(names.join(','), maxChars),
    summary: cut(`${first ? alertSummary(first) : ''}${more}`, maxChars),
  };
}

/** Splits a batch by status, so firing and resolved alerts never share one message. */
export function byStatus(batch: AlertBatch): WebhookAlert[][] {
  const firing = batch.alerts.filter((alert) => alert.status === 'firing');
  const resolved = batch.alerts.filter((alert) => alert.status === 'resolved');
  return [firing, resolved].filter((group) => group.length > 0);
}

export function isCritical(alert: WebhookAlert): boolean {
  return alert.labels.severity === 'critical';
}
