import { HttpCallError, requestJson } from '../../../platform/http/json-http.ts';
import type { WebhookAlert } from '../alertmanager-payload.ts';

export const CHANNELS = ['wechat', 'sms'] as const;
export type Channel = (typeof CHANNELS)[number];

/** What one channel is asked to deliver: the alerts of one Alertmanager notification it accepts, not yet sent. */
export interface AlertBatch {
  receiver: string;
  externalURL: string;
  alerts: WebhookAlert[];
}

/** A notification channel. `send` throws a NotifyError; the dispatcher wraps it in the channel's retry and breaker. */
export interface Notifier {
  readonly channel: Channel;
  /** Which alerts this channel carries at all (SMS: critical ones only). */
  accepts(alert: WebhookAlert): boolean;
  send(batch: AlertBatch, signal: AbortSignal): Promise<void>;
}

/** A failed delivery; `retryable` says whether another attempt may succeed (network, 5xx, rate limits). */
export class NotifyError extends HttpCallError {
  override readonly name = 'NotifyError';
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** POSTs and returns the parsed JSON answer; transport failures and HTTP errors become NotifyErrors. */
export async function postForJson(
  channel: string,
  url: string,
  init: { headers: Record<string, string>; body: string; signal: AbortSignal },
): Promise<unknown> {
  const answer = await requestJson<unknown>(url, {
    service: channel,
    method: 'POST',
    headers: init.headers,
    body: init.body,
    signal: init.signal,
    retryableStatus: (status) => RETRYABLE_STATUS.has(status),
    errorClass: NotifyError,
  });
  return answer.body ?? {};
}

export function alertTitle(alert: WebhookAlert): string {
  return alert.labels.alertname;
}

export function alertSummary(alert: WebhookAlert): string {
  return alert.annotations.summary ?? alert.annotations.description ?? alert.labels.alertname;
}

/** Cuts to `max` characters (code points, so a Chinese summary is not split mid-character). */
export function cut(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}
