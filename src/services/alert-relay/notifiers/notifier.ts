import { OutboundCallError } from '../../../platform/resilience/outbound-call-error.ts';
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
export class NotifyError extends OutboundCallError {
  override readonly name = 'NotifyError';
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** POSTs and returns the parsed JSON answer; transport failures and HTTP errors become NotifyErrors. */
export async function postForJson(
  channel: string,
  url: string,
  init: { headers: Record<string, string>; body: string; signal: AbortSignal },
): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: init.headers,
      body: init.body,
      signal: init.signal,
    });
  } catch (error) {
    throw new NotifyError(`${channel} unreachable: ${(error as Error).message}`, {
      retryable: true,
      cause: error,
    });
  }
  const text = await response.text();
  if (!response.ok) {
    throw new NotifyError(`${channel} answered HTTP ${response.status}`, {
      retryable: RETRYABLE_STATUS.has(response.status),
      status: response.status,
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new NotifyError(`${channel} answered with a body that is not JSON`, {
      retryable: false,
      cause: error,
    });
  }
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
