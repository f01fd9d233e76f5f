import { type Static, Type } from 'typebox';

const LabelSet = Type.Record(Type.String(), Type.String());

/** One alert as Alertmanager's webhook sends it (payload version 4). */
export const WebhookAlert = Type.Object({
  status: Type.Union([Type.Literal('firing'), Type.Literal('resolved')]),
  labels: Type.Intersect([LabelSet, Type.Object({ alertname: Type.String({ minLength: 1 }) })]),
  annotations: LabelSet,
  startsAt: Type.String({ format: 'date-time' }),
  // A firing alert carries Go's zero time here.
  endsAt: Type.String(),
  generatorURL: Type.String(),
  fingerprint: Type.String({ minLength: 1, maxLength: 64 }),
});

/**
 * The Alertmanager webhook payload, version 4 (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config).
 * Fields Alertmanager may add later are accepted; the ones the relay relies on are required.
 */
export const WebhookPayload = Type.Object({
  version: Type.Literal('4'),
  groupKey: Type.String(),
  truncatedAlerts: Type.Optional(Type.Integer({ minimum: 0 })),
  status: Type.Union([Type.Literal('firing'), Type.Literal('resolved')]),
  receiver: Type.String(),
  groupLabels: LabelSet,
  commonLabels: LabelSet,
  commonAnnotations: LabelSet,
  externalURL: Type.String(),
  alerts: Type.Array(WebhookAlert, { minItems: 1, maxItems: 1_000 }),
});

export type WebhookAlert = Static<typeof WebhookAlert>;
export type WebhookPayload = Static<typeof WebhookPayload>;

/** The relay's own identity of one alert occurrence: a re-fire after resolution is a new occurrence. */
export function occurrenceKey(alert: WebhookAlert): string {
  return `${alert.fingerprint}@${alert.startsAt}`;
}

export function severityOf(alert: WebhookAlert): string {
  return alert.labels.severity ?? 'none';
}
