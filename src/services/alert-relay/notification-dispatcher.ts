import type { Logger } from 'pino';
import type { Counter, Registry } from 'prom-client';
import { counter } from '../../platform/metrics/metrics-registry.ts';
import {
  CallPolicy,
  type CallPolicySettings,
  isPolicyRejection,
} from '../../platform/resilience/call-policy.ts';
import { occurrenceKey, type WebhookPayload } from './alertmanager-payload.ts';
import type { ExpiringSet } from './expiring-set.ts';
import { type Channel, type Notifier, NotifyError } from './notifiers/notifier.ts';

export type ChannelOutcome = 'sent' | 'nothing-new' | 'not-configured' | 'failed';

export interface DeliveryReport {
  channels: Partial<Record<Channel, { outcome: ChannelOutcome; alerts: number; error?: string }>>;
  /** True when some channel failed: the webhook answers 503 so Alertmanager sends again. */
  failed: boolean;
}

const notificationsCounter = (registry: Registry) =>
  counter(registry, 'alert_notifications_total', 'Alert notifications by channel and outcome.', [
    'channel',
    'outcome',
  ]);

export interface DispatcherOptions {
  notifiers: Notifier[];
  /** Keys `channel|fingerprint@startsAt|status` already delivered. */
  delivered: ExpiringSet;
  policy: CallPolicySettings;
  logger: Logger;
  /** The relay's registry: notifications by outcome and each channel's breaker state. */
  metrics: Registry;
}

/**
 * Fans one Alertmanager notification out to the channels its receiver asked for. Each channel has its own call
 * policy (retry with backoff, circuit breaker), so a broken SMS gateway never delays or blocks WeChat. An alert is
 * sent once per channel and status; it is marked before sending and unmarked if the delivery fails, so a retry by
 * Alertmanager sends exactly what is still missing.
 */
export class NotificationDispatcher {
  readonly #notifiers: Map<Channel, { notifier: Notifier; policy: CallPolicy }>;
  readonly #options: DispatcherOptions;
  readonly #notifications: Counter<'channel' | 'outcome'>;

  constructor(options: DispatcherOptions) {
    this.#options = options;
    this.#notifications = notificationsCounter(options.metrics);
    this.#notifiers = new Map(
      options.notifiers.map((notifier) => [
        notifier.channel,
        {
          notifier,
          policy: new CallPolicy(
            { ...options.policy, bulkheadLimit: 4, bulkheadQueue: 100 },
            {
              name: `notify-${notifier.channel}`,
              logger: options.logger,
              metrics: options.metrics,
              isRetryable: (error) => !(error instanceof NotifyError) || error.retryable,
              isFailure: (error) =>
                !(error instanceof NotifyError) || error.retryable || (error.status ?? 500) >= 500,
            },
          ),
        },
      ]),
    );
  }

  breakerState(channel: Channel): string | undefined {
    return this.#notifiers.get(channel)?.policy.breakerState;
  }

  async deliver(payload: WebhookPayload, channels: readonly Channel[]): Promise<DeliveryReport> {
    const report: DeliveryReport = { channels: {}, failed: false };
    await Promise.all(
      channels.map(async (channel) => {
        const entry = this.#notifiers.get(channel);
        if (!entry) {
          report.channels[channel] = { outcome: 'not-configured', alerts: 0 };
          return;
        }
        const keyOf = (alert: (typeof payload.alerts)[number]) =>
          `${channel}|${occurrenceKey(alert)}|${alert.status}`;
        const fresh = payload.alerts
          .filter((alert) => entry.notifier.accepts(alert))
          .filter((alert) => this.#options.delivered.claim(keyOf(alert)));
        if (fresh.length === 0) {
          report.channels[channel] = { outcome: 'nothing-new', alerts: 0 };
          return;
        }
        const startedAt = performance.now();
        try {
          await entry.policy.execute((signal) =>
            entry.notifier.send(
              { receiver: payload.receiver, externalURL: payload.externalURL, alerts: fresh },
              signal,
            ),
          );
          this.#notifications.inc({ channel, outcome: 'sent' });
          report.channels[channel] = { outcome: 'sent', alerts: fresh.length };
          this.#options.logger.info(
            {
              channel,
              alerts: fresh.map((alert) => ({
                alertname: alert.labels.alertname,
                status: alert.status,
                fingerprint: alert.fingerprint,
              })),
              duration_ms: Math.round(performance.now() - startedAt),
            },
            `notification sent via ${channel}`,
          );
        } catch (error) {
          for (const alert of fresh) this.#options.delivered.release(keyOf(alert));
          const outcome = isPolicyRejection(error) ? 'rejected' : 'failed';
          this.#notifications.inc({ channel, outcome });
          report.channels[channel] = {
            outcome: 'failed',
            alerts: fresh.length,
            error: (error as Error).message,
          };
          report.failed = true;
          this.#options.logger.warn(
            { channel, error, alerts: fresh.length, breaker: entry.policy.breakerState },
            `notification via ${channel} failed: ${(error as Error).message}`,
          );
        }
      }),
    );
    return report;
  }
}
