import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { openLiveConfig } from '../../src/platform/config/live-config.ts';
import { readLocalLayers } from '../../src/platform/config/local-layers.ts';
import { createLogger } from '../../src/platform/logging/logger.ts';
import { readStartupKeys } from '../../src/platform/service/startup-keys.ts';
import { usersConfigSchema } from '../../src/services/users/config.ts';
import { LogCapture } from '../support/log-capture.ts';

describe('start-up reads the local configuration once', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'config-startup-reads-'));
    await mkdir(join(dir, 'configmap'));
    await writeFile(join(dir, '.env'), `CONFIG_DIR=${join(dir, 'configmap')}\nLOG_LEVEL=debug\n`);
    await writeFile(join(dir, 'configmap', 'SERVICE_NAME'), 'from-configmap\n');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads each .env file once for the start-up keys, the source choice and the first load, even with CONFIG_DIR', async () => {
    const reads = new Map<string, number>();
    const countingReader = async (path: string) => {
      reads.set(basename(path), (reads.get(basename(path)) ?? 0) + 1);
      return readFile(path, 'utf8').catch(() => undefined);
    };
    const { logger } = createLogger({
      service: 'test',
      version: 'test',
      level: 'warn',
      destination: new LogCapture(),
    });

    const local = await readLocalLayers({ directory: dir, env: {}, readFile: countingReader });
    const startup = await readStartupKeys(usersConfigSchema, local);
    const store = await openLiveConfig(usersConfigSchema, { local, logger, metrics: new Registry() });
    try {
      assert.equal(startup.SERVICE_NAME, 'from-configmap', 'CONFIG_DIR named in .env is a start-up layer');
      assert.equal(store.values.LOG_LEVEL, 'debug');
      assert.equal(store.values.SERVICE_NAME, 'from-configmap');
      assert.deepEqual(Object.fromEntries(reads), { '.env': 1, '.env.local': 1 });

      await store.reload();
      assert.deepEqual(
        Object.fromEntries(reads),
        { '.env': 2, '.env.local': 2 },
        'a reload reads the files again',
      );
    } finally {
      await store.close();
    }
  });
});
