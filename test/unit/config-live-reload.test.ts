import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it, mock } from 'node:test';
import { Registry } from 'prom-client';
import { Type } from 'typebox';
import { ConfigStore, reloadableKeys } from '../../src/platform/config/config-store.ts';
import { dotenvCascadeSource } from '../../src/platform/config/dotenv-cascade-source.ts';
import { environmentSource } from '../../src/platform/config/environment-source.ts';
import { filesDirectorySource } from '../../src/platform/config/files-directory-source.ts';
import { createLogger } from '../../src/platform/logging/logger.ts';
import { ReconnectDelays } from '../../src/platform/resilience/reconnect-delays.ts';
import { usersConfigSchema } from '../../src/services/users/config.ts';
import { LogCapture } from '../support/log-capture.ts';
import { parseMetrics, sumOf } from '../support/metrics-text.ts';

/** The wait before the `attempt`-th reconnect (1-based) with Math.random pinned, as the reconnect loops draw it. */
function jitteredBackoffMs(attempt: number, initialMs: number, maxMs: number, random: () => number): number {
  const pinned = mock.method(Math, 'random', random);
  try {
    const delays = new ReconnectDelays(initialMs, maxMs);
    let delayMs = 0;
    for (let n = 0; n < attempt; n += 1) delayMs = delays.next();
    return delayMs;
  } finally {
    pinned.mock.restore();
  }
}

const schema = Type.Object({
  PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8080 }),
  LOG_LEVEL: Type.Enum(['debug', 'info', 'warn', 'error'], { default: 'info', reloadable: true }),
  SLOW_REQUEST_MS: Type.Integer({ minimum: 1, default: 1000, reloadable: true }),
  RATE_LIMIT_MAX: Type.Integer({ minimum: 0, default: 100, reloadable: true }),
  DB_PASSWORD: Type.Optional(Type.String({ secret: true, reloadable: true })),
});

async function failureCount(metrics: Registry, reason: string): Promise<number> {
  return sumOf(parseMetrics(await metrics.metrics()), 'config_reload_failures_total', { reason });
}

/** Writes a generation the way the kubelet does: a timestamped dir, then an atomic rename of `..data`. */
async function kubeletWrite(dir: string, generation: number, files: Record<string, string>): Promise<void> {
  const genDir = join(dir, `..2026_11_24_00_00_0${generation}.000`);
  await mkdir(genDir);
  for (const [name, content] of Object.entries(files)) await writeFile(join(genDir, name), content);
  await symlink(genDir.split('/').pop() as string, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const name of Object.keys(files)) {
    await symlink(join('..data', name), join(dir, name)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
}

describe('live configuration store', () => {
  let dir: string;
  let logs: LogCapture;
  let store: ConfigStore<typeof schema> | undefined;
  let metrics: Registry;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'config-live-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    await store?.close();
    store = undefined;
    await rm(dir, { recursive: true, force: true });
    await mkdir(join(dir, 'mounted'), { recursive: true });
    logs = new LogCapture();
    metrics = new Registry();
  });

  const open = async (env: Record<string, string> = {}) => {
    const { logger } = createLogger({ service: 'test', version: 'test', level: 'debug', destination: logs });
    store = await ConfigStore.open(
      schema,
      [
        dotenvCascadeSource({ directory: dir, nodeEnv: undefined }),
        filesDirectorySource(join(dir, 'mounted')),
        environmentSource(env),
      ],
      { logger, metrics, debounceMs: 20 },
    );
    return store;
  };

  /** The store's "configuration reloaded" line that changes `key`, awaited as it is written. */
  const reloadOf = (key: string) =>
    logs.waitForLine(
      (line) =>
        line.message.startsWith('configuration reloaded') &&
        Object.hasOwn((line.changed as object | undefined) ?? {}, key),
      AbortSignal.timeout(5_000),
    );

  it('orders the layers: defaults < .env < mounted files < environment', async () => {
    await writeFile(join(dir, '.env'), 'PORT=1000\nLOG_LEVEL=warn\nSLOW_REQUEST_MS=5\n');
    await kubeletWrite(join(dir, 'mounted'), 1, { LOG_LEVEL: 'error\n', SLOW_REQUEST_MS: '7' });
    const config = await open({ SLOW_REQUEST_MS: '9' });
    assert.equal(config.values.PORT, 1000);
    assert.equal(config.values.LOG_LEVEL, 'error');
    assert.equal(config.origins.LOG_LEVEL, `${join(dir, 'mounted')}/LOG_LEVEL`);
    assert.equal(config.values.SLOW_REQUEST_MS, 9);
    assert.equal(config.values.RATE_LIMIT_MAX, 100);
  });

  it('applies a ConfigMap `..data` swap and calls only the subscribers of the changed keys', async () => {
    await kubeletWrite(join(dir, 'mounted'), 1, { LOG_LEVEL: 'info', RATE_LIMIT_MAX: '10' });
    const config = await open();
    const calls: { who: string; keys: string[] }[] = [];
    config.subscribe(['LOG_LEVEL'], (_values, keys) => calls.push({ who: 'logging', keys }));
    config.subscribe(['SLOW_REQUEST_MS'], (_values, keys) => calls.push({ who: 'slow', keys }));
    config.subscribe(['RATE_LIMIT_MAX'], (_values, keys) => calls.push({ who: 'rate', keys }));
    config.watch();
    await kubeletWrite(join(dir, 'mounted'), 2, { LOG_LEVEL: 'debug', RATE_LIMIT_MAX: '20' });
    await reloadOf('RATE_LIMIT_MAX');
    assert.equal(config.values.RATE_LIMIT_MAX, 20);
    assert.equal(config.values.LOG_LEVEL, 'debug');
    assert.deepEqual(
      calls.sort((a, b) => a.who.localeCompare(b.who)),
      [
        { who: 'logging', keys: ['LOG_LEVEL'] },
        { who: 'rate', keys: ['RATE_LIMIT_MAX'] },
      ],
    );
    const line = logs.find((entry) => entry.message.startsWith('configuration reloaded'));
    assert.ok(line, 'an INFO line names the change');
    assert.deepEqual(Object.keys(line.changed as object).sort(), ['LOG_LEVEL', 'RATE_LIMIT_MAX']);
  });

  it('rejects an invalid result whole: nothing half-applies, an ERROR line and the counter say why', async () => {
    await writeFile(join(dir, '.env'), 'LOG_LEVEL=info\nRATE_LIMIT_MAX=10\n');
    const config = await open();
    const before = await failureCount(metrics, 'invalid');
    const seen: string[][] = [];
    config.subscribe(['LOG_LEVEL', 'RATE_LIMIT_MAX'], (_values, keys) => seen.push(keys));
    // LOG_LEVEL is valid, RATE_LIMIT_MAX is not: neither may apply.
    await writeFile(join(dir, '.env'), 'LOG_LEVEL=debug\nRATE_LIMIT_MAX=lots\n');
    const outcome = await config.reload();
    assert.equal(outcome.status, 'rejected');
    assert.equal(config.values.LOG_LEVEL, 'info');
    assert.equal(config.values.RATE_LIMIT_MAX, 10);
    assert.deepEqual(seen, []);
    const error = logs.find((line) => line.level === 'ERROR');
    assert.ok(error);
    assert.match(
      error.message,
      /reload rejected; keeping the last good configuration: .*RATE_LIMIT_MAX must be an integer/,
    );
    assert.equal(await failureCount(metrics, 'invalid'), before + 1);
    // Re-reading the same bad state (the poll timer does) is not a new failure.
    await config.reload();
    assert.equal(await failureCount(metrics, 'invalid'), before + 1);
    // Fixed: applies.
    await writeFile(join(dir, '.env'), 'LOG_LEVEL=debug\nRATE_LIMIT_MAX=11\n');
    assert.equal((await config.reload()).status, 'applied');
    assert.equal(config.values.RATE_LIMIT_MAX, 11);
  });

  it('keeps a restart-only key and logs "restart required" once', async () => {
    await writeFile(join(dir, '.env'), 'PORT=1000\n');
    const config = await open();
    await writeFile(join(dir, '.env'), 'PORT=2000\nSLOW_REQUEST_MS=50\n');
    const outcome = await config.reload();
    assert.equal(outcome.status, 'applied');
    assert.equal(config.values.PORT, 1000);
    assert.equal(config.values.SLOW_REQUEST_MS, 50);
    await config.reload();
    const warnings = logs.lines.filter(
      (line) => line.level === 'WARN' && /restart required/.test(line.message),
    );
    assert.equal(warnings.length, 1);
    assert.deepEqual(warnings[0]?.keys, ['PORT']);
  });

  it('reloads a NAME_FILE secret when it is rotated, without logging its value', async () => {
    const secrets = join(dir, 'secrets');
    await mkdir(secrets);
    await writeFile(join(secrets, 'db-password'), 'first-s3cret\n');
    const config = await open({ DB_PASSWORD_FILE: join(secrets, 'db-password') });
    assert.equal(config.values.DB_PASSWORD, 'first-s3cret');
    config.watch();
    // Vault Agent and Kubernetes replace the file rather than editing it.
    await writeFile(join(secrets, 'db-password.tmp'), 'second-s3cret\n');
    await rename(join(secrets, 'db-password.tmp'), join(secrets, 'db-password'));
    await reloadOf('DB_PASSWORD');
    assert.equal(config.values.DB_PASSWORD, 'second-s3cret');
    const reloaded = logs.find((line) => line.message.startsWith('configuration reloaded'));
    assert.ok(reloaded);
    assert.equal(
      logs.raw.some((line) => line.includes('s3cret')),
      false,
      'secret values never reach the log',
    );
  });

  it('redacts a secret in the rejection message', async () => {
    const strict = Type.Object({
      TOKEN: Type.String({ secret: true, minLength: 20, reloadable: true, default: 'x'.repeat(20) }),
    });
    const { logger } = createLogger({ service: 'test', version: 'test', level: 'debug', destination: logs });
    const env: Record<string, string> = {};
    const secretStore = await ConfigStore.open(strict, [environmentSource(env)], { logger, metrics });
    env.TOKEN = 'short-hunter2';
    assert.equal((await secretStore.reload()).status, 'rejected');
    assert.equal(
      logs.raw.some((line) => line.includes('hunter2')),
      false,
    );
    assert.ok(logs.find((line) => /TOKEN must be .* \(got \[REDACTED\]/.test(line.message)));
    await secretStore.close();
  });

  it('refuses a subscription to a restart-only key', async () => {
    const config = await open();
    assert.throws(() => config.subscribe(['PORT'], () => {}), /PORT is not reloadable/);
  });

  it('marks the documented reloadable keys of the users service', () => {
    const keys = reloadableKeys(usersConfigSchema);
    for (const key of [
      'LOG_LEVEL',
      'SLOW_REQUEST_MS',
      'RATE_LIMIT_MAX',
      'RATE_LIMIT_WINDOW_MS',
      'RISK_BREAKER_THRESHOLD',
      'DATABASE_PASSWORD',
    ]) {
      assert.ok(keys.has(key), `${key} is reloadable`);
    }
    for (const key of ['PORT', 'DATABASE_URL', 'CONFIG_CENTRE', 'RISK_SERVICE_URL'])
      assert.equal(keys.has(key), false, key);
    for (const [key, property] of Object.entries(usersConfigSchema.properties)) {
      assert.ok((property as { description?: string }).description, `${key} has a description`);
    }
  });

  it('spreads retries with jitter under an exponentially growing cap', () => {
    assert.equal(
      jitteredBackoffMs(1, 100, 1_000, () => 0),
      50,
    );
    assert.equal(
      jitteredBackoffMs(1, 100, 1_000, () => 1),
      100,
    );
    assert.equal(
      jitteredBackoffMs(4, 100, 1_000, () => 1),
      800,
    );
    assert.equal(
      jitteredBackoffMs(10, 100, 1_000, () => 1),
      1_000,
    );
  });
});
