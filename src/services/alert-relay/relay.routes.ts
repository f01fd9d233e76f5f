import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { BusinessError, DependencyError } from '../../platform/errors/app-error.ts';
import { WebhookPayload } from './alertmanager-payload.ts';
import type { MttrTracker } from './mttr.ts';
import type { NotificationDispatcher } from './notification-dispatcher.ts';
import { CHANNELS, type Channel } from './notifiers/notifier.ts';
import type { Remediator } from './remediation/remediator.ts';

export interface RelayRoutesOptions {
  /** The bearer token Alertmanager must present. */
  webhookToken: string;
  dispatcher: NotificationDispatcher;
  remediator: Remediator;
  mttr: MttrTracker;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Constant-time comparison of the presented bearer token with the configured one. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return false;
  return timingSafeEqual(digest(match[1]), digest(token));
}

const unauthorized = () =>
  new BusinessError({
    status: 401,
    code: 'unauthorized',
    title: 'Unauthorized',
    detail: 'POST /webhook needs the bearer token configured as RELAY_WEBHOOK_TOKEN.',
    headers: { 'www-authenticate': 'Bearer realm="alert-relay"' },
  });

const WebhookQuery = Type.Object(
  {
    channels: Type.Optional(
      Type.String({
        pattern: `^(${CHANNELS.join('|')})(,(${CHANNELS.join('|')}))*$`,
        description:
          'Channels this receiver asked for; default all (SMS still carries critical alerts only).',
      }),
    ),
  },
  { additionalProperties: false },
);

export const relayRoutes: FastifyPluginAsyncTypebox<RelayRoutesOptions> = async (app, options) => {
  app.post(
    '/webhook',
    {
      schema: { body: WebhookPayload, querystring: WebhookQuery },
      // Before the body is parsed: an unauthenticated caller gets nothing parsed or validated.
      onRequest: async (request) => {
        if (!bearerMatches(request.headers.authorization, options.webhookToken)) throw unauthorized();
      },
    },
    async (request) => {
      const payload = request.body;
      const channels = (request.query.channels?.split(',') ?? [...CHANNELS]) as Channel[];
      const received_at = Date.now();
      request.log.info(
        {
          receiver: payload.receiver,
          group_key: payload.groupKey,
          status: payload.status,
          alerts: payload.alerts.length,
          channels,
        },
        'alert notification received',
      );
      const [delivery, remediations] = await Promise.all([
        options.dispatcher.deliver(payload, [...new Set(channels)]),
        options.remediator.handle(payload.alerts),
      ]);
      // Resolved notices make the incidents of their pods look at the cluster now (recorded if repaired).
      const mttr_recorded = await options.mttr.resolved(payload.alerts);
      if (delivery.failed) {
        // 503 makes Alertmanager send the notification again; what was delivered is not sent twice.
        throw new DependencyError('notification channel', {
          detail: `Delivery failed: ${Object.entries(delivery.channels)
            .filter(([, report]) => report.outcome === 'failed')
            .map(([channel, report]) => `${channel} (${report.error})`)
            .join(', ')}`,
          headers: { 'retry-after': '10' },
        });
      }
      return {
        status: 'ok',
        received_at: new Date(received_at).toISOString(),
        delivery: delivery.channels,
        remediations,
        mttr_recorded,
      };
    },
  );

  app.get('/mttr', async () => options.mttr.summary());
};
