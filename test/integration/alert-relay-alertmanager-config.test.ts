import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { findBinary, needs } from '../support/requirements.ts';

const run = promisify(execFile);
const CONFIG = 'deploy/monitoring/alertmanager.yml';
const CASES = 'deploy/monitoring/alertmanager-tests/routes.yaml';

interface RouteCase {
  name: string;
  labels: Record<string, string>;
  receivers: string[];
}

interface WebhookConfig {
  url: string;
  send_resolved?: boolean;
  max_alerts?: number;
  http_config?: { authorization?: { type?: string; credentials_file?: string; credentials?: string } };
}

const amtool = findBinary('amtool');
const skip = needs('amtool');

describe('Alertmanager configuration', () => {
  test('amtool check-config accepts it', { skip }, async () => {
    const { stdout } = await run(amtool!, ['check-config', CONFIG]);
    assert.match(stdout, /SUCCESS/);
    assert.match(stdout, /2 inhibit rules/);
  });

  test('every routing case resolves to the expected receivers', { skip }, async (t) => {
    const cases = parse(await readFile(CASES, 'utf8')) as RouteCase[];
    assert.ok(cases.length >= 8);
    for (const routeCase of cases) {
      const labels = Object.entries(routeCase.labels).map(([name, value]) => `${name}=${value}`);
      const result = await run(amtool!, [
        'config',
        'routes',
        'test',
        `--config.file=${CONFIG}`,
        `--verify.receivers=${routeCase.receivers.join(',')}`,
        ...labels,
      ]).then(
        (ok) => ({ code: 0, stdout: ok.stdout }),
        (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
      );
      t.diagnostic(`${routeCase.name}: ${result.stdout.trim()}`);
      assert.equal(result.code, 0, `${routeCase.name}: got ${result.stdout.trim()}`);
    }
  });

  test('a wrong expectation fails, so the cases can fail', { skip }, async () => {
    await assert.rejects(
      run(amtool!, [
        'config',
        'routes',
        'test',
        `--config.file=${CONFIG}`,
        '--verify.receivers=relay-wechat',
        'alertname=PodRestartingTooOften',
        'severity=critical',
      ]),
    );
  });

  test('both receivers post to the relay with a bearer token file and send resolved notices', async () => {
    const config = parse(await readFile(CONFIG, 'utf8')) as {
      receivers: { name: string; webhook_configs: WebhookConfig[] }[];
      inhibit_rules: { source_matchers: string[]; target_matchers: string[]; equal: string[] }[];
    };
    const channels: Record<string, string | null> = {};
    for (const receiver of config.receivers) {
      assert.equal(receiver.webhook_configs.length, 1);
      const [webhook] = receiver.webhook_configs;
      assert.equal(webhook?.send_resolved, true);
      assert.ok(
        (webhook?.max_alerts ?? 0) > 0 && (webhook?.max_alerts ?? 0) <= 1_000,
        'within the relay schema limit',
      );
      assert.equal(webhook?.http_config?.authorization?.type, 'Bearer');
      assert.ok(webhook?.http_config?.authorization?.credentials_file, 'token comes from a mounted file');
      assert.equal(webhook?.http_config?.authorization?.credentials, undefined, 'no inline token');
      channels[receiver.name] = new URL(webhook!.url).searchParams.get('channels');
    }
    assert.deepEqual(channels, { 'relay-critical': 'wechat,sms', 'relay-wechat': 'wechat' });
    const twin = config.inhibit_rules.find((rule) => rule.source_matchers.includes('severity="critical"'));
    assert.deepEqual(twin?.target_matchers, ['severity="warning"']);
    assert.ok(twin?.equal.includes('alertname'));
  });
});
