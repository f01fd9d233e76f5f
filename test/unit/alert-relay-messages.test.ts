import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Value } from 'typebox/value';
import { WebhookPayload } from '../../src/services/alert-relay/alertmanager-payload.ts';
import { ExpiringSet } from '../../src/services/alert-relay/expiring-set.ts';
import { NotificationDispatcher } from '../../src/services/alert-relay/notification-dispatcher.ts';
import type { AlertBatch, Notifier } from '../../src/services/alert-relay/notifiers/notifier.ts';
import { smsParams } from '../../src/services/alert-relay/notifiers/sms-message.ts';
import {
  WECHAT_MARKDOWN_MAX_BYTES,
  wechatMarkdown,
} from '../../src/services/alert-relay/notifiers/wechat-work.ts';
import { alert, payload } from '../support/alert-payloads.ts';

describe('Alertmanager v4 payload schema', () => {
  test('accepts what Alertmanager sends, including fields it may add later', () => {
    const good = payload('relay-critical', [alert({ alertname: 'A', severity: 'critical' })]);
    assert.ok(Value.Check(WebhookPayload, good));
    assert.ok(Value.Check(WebhookPayload, { ...good, newField: true }));
  });

  test('rejects wrong versions, statuses, empty alert lists and alerts without a name', () => {
    const good = payload('r', [alert({ alertname: 'A' })]);
    const [one] = good.alerts;
    for (const bad of [
      { ...good, version: '3' },
      { ...good, status: 'pending' },
      { ...good, alerts: [] },
      { ...good, alerts: [{ ...one, labels: {} }] },
      { ...good, alerts: [{ ...one, fingerprint: '' }] },
      { ...good, alerts: [{ ...one, labels: { alertname: 'A', n: 5 } }] },
      { ...good, groupLabels: undefined },
    ]) {
      assert.equal(Value.Check(WebhookPayload, bad), false, JSON.stringify(bad).slice(0, 120));
    }
  });
});

describe('message content', () => {
  test('WeChat markdown carries status, severity, summary, labels and runbook; long batches are cut at whole alerts', () => {
    const one = wechatMarkdown({
      receiver: 'r',
      externalURL: '',
      alerts: [
        alert({ alertname: 'UserServiceHighErrorRatio', severity: 'critical', service: 'user-service' }),
      ],
    });
    assert.match(one, /^### FIRING: UserServiceHighErrorRatio/);
    assert.match(one, /status: <font color="warning">firing<\/font>/);
    assert.match(one, /severity: <font color="warning">critical<\/font>/);
    assert.match(one, /labels: `service=user-service`/);
    assert.match(one, /runbook: \[https:\/\/runbooks\.example\.com\/UserServiceHighErrorRatio\]/);

    const many: AlertBatch = {
      receiver: 'r',
      externalURL: '',
      alerts: Array.from({ length: 200 }, (_, i) =>
        alert({ alertname: `告警${i}`, severity: 'warning', pod: `pod-${i}` }),
      ),
    };
    const text = wechatMarkdown(many);
    assert.ok(Buffer.byteLength(text) <= WECHAT_MARKDOWN_MAX_BYTES);
    assert.match(text, /… and \d+ more \(see Alertmanager\)$/);
  });

  test('SMS variables are status, alert and summary, cut to the gateway limit', () => {
    const alerts = [
      alert({ alertname: 'PodRestartingTooOften', severity: 'critical', pod: 'p1' }),
      alert({ alertname: 'X', pod: 'p2' }),
    ];
    assert.deepEqual(smsParams(alerts, 12), {
      status: 'FIRING',
      alert: 'PodRestarti…',
      summary: 'PodRestarti…',
    });
    assert.deepEqual(smsParams([alerts[1]!], 40), { status: 'FIRING', alert: 'X', summary: 'X on p2' });
  });
});

describe('dedupe and MTTR', () => {
  test('an expiring set forgets after its time and stays bounded', () => {
    const clock = { now: 0 };
    const set = new ExpiringSet({ ttlMs: () => 100, maxEntries: 3, now: () => clock.now });
    assert.equal(set.claim('a'), true);
    assert.equal(set.claim('a'), false);
    clock.now = 101;
    assert.equal(set.claim('a'), true);
    for (const key of ['b', 'c', 'd']) set.claim(key);
    assert.equal(set.size, 3);
    assert.equal(set.has('a'), false, 'oldest evicted');
  });

  test('the dispatcher sends each occurrence and status once per channel and resends after a failure', async () => {
    const sent: string[] = [];
    let failures = 1;
    const notifier: Notifier = {
      channel: 'wechat',
      accepts: () => true,
      send: async (batch) => {
        if (failures-- > 0) throw new Error('down');
        sent.push(...batch.alerts.map((a) => `${a.labels.alertname}:${a.status}`));
      },
    };
    const dispatcher = new NotificationDispatcher({
      notifiers: [notifier],
      delivered: new ExpiringSet({ ttlMs: () => 60_000 }),
      logger: pino({ level: 'silent' }),
      metrics: new Registry(),
      policy: {
        timeoutMs: 1_000,
        attemptTimeoutMs: 500,
        retries: 0,
        retryInitialDelayMs: 1,
        retryMaxDelayMs: 1,
        breakerThreshold: 10,
        breakerHalfOpenAfterMs: 1_000,
        bulkheadLimit: 1,
        bulkheadQueue: 1,
      },
    });
    const firing = payload('r', [alert({ alertname: 'A' })]);
    assert.equal((await dispatcher.deliver(firing, ['wechat'])).failed, true);
    assert.equal((await dispatcher.deliver(firing, ['wechat'])).channels.wechat?.outcome, 'sent');
    assert.equal((await dispatcher.deliver(firing, ['wechat'])).channels.wechat?.outcome, 'nothing-new');
    const resolved = payload('r', [alert({ alertname: 'A' }, { status: 'resolved' })]);
    await dispatcher.deliver(resolved, ['wechat']);
    await dispatcher.deliver(resolved, ['wechat']);
    assert.deepEqual(sent, ['A:firing', 'A:resolved']);
    assert.equal((await dispatcher.deliver(firing, ['sms'])).channels.sms?.outcome, 'not-configured');
  });
});
