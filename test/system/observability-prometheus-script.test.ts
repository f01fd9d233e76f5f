import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { pollUntil } from '../../scripts/lib/poll-until.ts';
import { needs } from '../support/requirements.ts';
import { freePort } from '../support/server-instances.ts';

const run = promisify(execFile);

/** scripts/servers/prometheus.sh as a developer uses it: start against a target, query, stop. */
describe('scripts/servers/prometheus.sh', { skip: needs('prometheus') }, () => {
  let env: NodeJS.ProcessEnv = {};
  const script = (...args: string[]) =>
    run('bash', ['scripts/servers/prometheus.sh', ...args], { env, timeout: 60_000 });

  after(async () => {
    await script('stop').catch(() => {});
  });

  test('starts on loopback with the alert rules, scrapes the target, and stops', async () => {
    const port = await freePort();
    env = {
      ...process.env,
      PROM_PORT: String(port),
      PROM_DIR: join(tmpdir(), `prometheus-script-${port}`),
      PROM_SCRAPE_INTERVAL: '1s',
    };
    // Prometheus scraping itself stands in for a running service: the script only needs a host:port.
    const { stdout } = await script('start', `127.0.0.1:${port}`);
    assert.equal(stdout.trim(), `export PROMETHEUS_URL=http://127.0.0.1:${port}`);
    const url = `http://127.0.0.1:${port}`;

    const rules = (await (await fetch(`${url}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string }[] }[] };
    };
    const names = new Set(rules.data.groups.flatMap((group) => group.rules.map((rule) => rule.name)));
    assert.ok(
      names.has('UserServiceHighLatencyP99') && names.has('PodRestartingTooOften'),
      [...names].join(),
    );

    const up = await pollUntil(
      async () => {
        const body = (await (await fetch(`${url}/api/v1/query?query=up%3D%3D1`)).json()) as {
          data: { result: unknown[] };
        };
        return body.data.result.length > 0 && body.data.result;
      },
      { what: 'the target scraped', timeoutMs: 15_000, intervalMs: 250 },
    );
    assert.equal(up.length, 1, 'the target was not scraped');
    assert.match((await script('status')).stdout, /running/);

    await script('stop');
    const status = await script('status').catch((error: { code: number; stdout: string }) => error);
    assert.match(status.stdout, /stopped/);
    assert.equal((status as { code?: number }).code, 1);
    await assert.rejects(fetch(`${url}/-/ready`));
  });
});
