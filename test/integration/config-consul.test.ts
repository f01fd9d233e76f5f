import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { Type } from 'typebox';
import { pollUntil } from '../../scripts/lib/poll-until.ts';
import { ConfigStore } from '../../src/platform/config/config-store.ts';
import { consulConfigSource } from '../../src/platform/config/consul-config-source.ts';
import { environmentSource } from '../../src/platform/config/environment-source.ts';
import { createLogger } from '../../src/platform/logging/logger.ts';
import { ConsulDouble } from '../support/consul-double.ts';
import { LogCapture } from '../support/log-capture.ts';

const schema = Type.Object({
  LOG_LEVEL: Type.Enum(['debug', 'info', 'warn', 'error'], { default: 'info', reloadable: true }),
  RATE_LIMIT_MAX: Type.Integer({ minimum: 0, default: 100, reloadable: true }),
  PORT: Type.Integer({ default: 8080 }),
});

/** Milliseconds until `probe` holds. */
async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<number> {
  const startedAt = performance.now();
  await pollUntil(probe, { what, timeoutMs, intervalMs: 20 });
  return performance.now() - startedAt;
}

describe('Consul KV config centre (blocking queries against a double of the HTTP API)', () => {
  const consul = new ConsulDouble({ token: 'acl-t0ken-value' });
  const logs = new LogCapture();
  const metrics = new Registry();
  let store: ConfigStore<typeof schema>;
  const env: Record<string, string> = {};

  before(async () => {
    await consul.start();
    consul.put('config/user-service/LOG_LEVEL', 'warn');
    consul.put('config/other-service/LOG_LEVEL', 'error');
    const { logger } = createLogger({ service: 'test', version: 'test', level: 'debug', destination: logs });
    store = await ConfigStore.open(
      schema,
      [
        consulConfigSource({
          address: consul.address,
          prefix: 'config/user-service/',
          token: consul.token,
          waitSeconds: 2,
          timeoutMs: 1_000,
          logger,
          metrics,
          retryInitialMs: 100,
          retryMaxMs: 400,
        }),
        environmentSource(env),
      ],
      { logger, metrics, debounceMs: 10 },
    );
    store.watch();
  });
  after(async () => {
    await store.close();
    await consul.stop();
  });

  it('loads the prefix at start, ignoring other prefixes', () => {
    assert.equal(store.values.LOG_LEVEL, 'warn');
    assert.equal(store.origins.LOG_LEVEL, 'consul config/user-service/LOG_LEVEL');
  });

  it('applies a change pushed through a blocking query and calls the subscriber', async () => {
    const calls: string[][] = [];
    const unsubscribe = store.subscribe(['RATE_LIMIT_MAX'], (_values, keys) => calls.push(keys));
    consul.put('config/user-service/RATE_LIMIT_MAX', '42');
    const ms = await until('the change', () => store.values.RATE_LIMIT_MAX === 42);
    console.log(`consul change applied after ${Math.round(ms)} ms`);
    assert.deepEqual(calls, [['RATE_LIMIT_MAX']]);
    unsubscribe();
    const blocking = consul.requests.filter((request) => request.index !== null);
    assert.ok(blocking.length > 0, 'the client sends index=');
    assert.ok(blocking.every((request) => request.wait === '2s' && request.token === consul.token));
  });

  it('lets environment variables win over the centre', async () => {
    env.RATE_LIMIT_MAX = '7';
    await store.reload();
    assert.equal(store.values.RATE_LIMIT_MAX, 7);
    delete env.RATE_LIMIT_MAX;
    await store.reload();
    assert.equal(store.values.RATE_LIMIT_MAX, 42);
  });

  it('rejects an invalid centre value whole and keeps the last good configuration', async () => {
    consul.put('config/user-service/LOG_LEVEL', 'verbose');
    await until('the rejection', () => logs.lines.some((line) => line.level === 'ERROR'));
    assert.equal(store.values.LOG_LEVEL, 'warn');
    consul.put('config/user-service/LOG_LEVEL', 'debug');
    await until('the fix', () => store.values.LOG_LEVEL === 'debug');
  });

  it('keeps the config through an outage, retries with backoff and resumes the watch', async () => {
    await consul.stop();
    await until('the outage WARN', () =>
      logs.lines.some((line) => /config centre unreachable/.test(line.message)),
    );
    assert.equal(store.values.LOG_LEVEL, 'debug', 'last good config stays');
    assert.equal((await store.reload()).status, 'unchanged', 'reloads do not fail while the centre is away');
    consul.put('config/user-service/LOG_LEVEL', 'error');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await consul.start();
    const ms = await until('resume and catch up', () => store.values.LOG_LEVEL === 'error');
    console.log(`consul watch resumed and caught up ${Math.round(ms)} ms after the restart`);
    assert.ok(logs.lines.some((line) => /reachable again; watch resumed/.test(line.message)));
    assert.equal(
      logs.raw.some((line) => line.includes(consul.token ?? '')),
      false,
      'the ACL token never reaches the log',
    );
  });

  it('treats a deleted key as back to its default', async () => {
    consul.delete('config/user-service/RATE_LIMIT_MAX');
    await until('the default', () => store.values.RATE_LIMIT_MAX === 100);
  });
});
