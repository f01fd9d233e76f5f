import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { pollUntil } from '../../scripts/lib/poll-until.ts';
import { needs } from '../support/requirements.ts';
import { type EtcdInstance, startEtcdInstance } from '../support/server-instances.ts';
import { type RunningService, spawnService } from '../support/spawn-service.ts';

const PREFIX = '/config/user-service/';

describe('etcd config centre stopped and restarted under a running service', { skip: needs('etcd') }, () => {
  let etcd: EtcdInstance;
  let service: RunningService;
  let client: Etcd3;

  const put = async (key: string, value: string) => {
    client?.close();
    client = new Etcd3({ hosts: etcd.endpoint });
    await client.put(`${PREFIX}${key}`).value(value);
  };
  const rateLimit = async () => {
    const response = await fetch(`${service.url}/users`);
    await response.body?.cancel();
    return Number(response.headers.get('x-ratelimit-limit'));
  };
  /** Milliseconds until the service answers with this rate limit. */
  const untilRateLimit = async (what: string, limit: number) => {
    const startedAt = performance.now();
    await pollUntil(async () => (await rateLimit()) === limit, { what, timeoutMs: 20_000 });
    return performance.now() - startedAt;
  };

  before(async () => {
    etcd = await startEtcdInstance();
    await put('RATE_LIMIT_MAX', '500');
    service = await spawnService({
      env: {
        DATABASE_URL: 'memory://',
        CONFIG_CENTRE: 'etcd',
        ETCD_ENDPOINTS: etcd.endpoint,
        CONFIG_REMOTE_RETRY_INITIAL_MS: '200',
        CONFIG_REMOTE_RETRY_MAX_MS: '1000',
        CONFIG_REMOTE_TIMEOUT_MS: '1000',
        LOG_LEVEL: 'info',
      },
    });
  });
  after(async () => {
    client?.close();
    await service?.stop();
    await etcd?.destroy();
  });

  it('reads the centre at start and applies a watched change', async () => {
    assert.equal(await rateLimit(), 500);
    await put('RATE_LIMIT_MAX', '400');
    const ms = await untilRateLimit('the watched change', 400);
    console.log(`etcd change applied after ${Math.round(ms)} ms`);
  });

  it('keeps the config and readiness while etcd is down, then resumes the watch and applies a later change', async () => {
    client.close();
    await etcd.stop();
    await service.waitForLine((line) => /config centre unreachable/.test(line.message), 20_000);
    // Several seconds of outage: readiness and the last good config must hold throughout.
    const outageEnds = Date.now() + 3_000;
    while (Date.now() < outageEnds) {
      assert.equal(
        (await fetch(`${service.url}/readyz`)).status,
        200,
        'readiness does not depend on the centre',
      );
      assert.equal(await rateLimit(), 400, 'the last good config stays');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const restartedAt = performance.now();
    await etcd.start();
    const startedMs = performance.now() - restartedAt;
    await service.waitForLine((line) => /reachable again; watch resumed/.test(line.message), 30_000);
    const resumeMs = performance.now() - restartedAt;
    const changedAt = performance.now();
    await put('RATE_LIMIT_MAX', '300');
    await untilRateLimit('the change after the restart', 300);
    const applyMs = performance.now() - changedAt;
    console.log(
      `etcd restart took ${Math.round(startedMs)} ms; watch resumed ${Math.round(resumeMs)} ms after the restart began; a later change applied in ${Math.round(applyMs)} ms`,
    );
    const warnings = service.lines.filter((line) => /config centre unreachable/.test(line.message));
    assert.equal(warnings.length, 1, 'one WARN per outage, not one per retry');
    assert.equal(service.child.exitCode, null, 'the service never restarted');
  });
});
