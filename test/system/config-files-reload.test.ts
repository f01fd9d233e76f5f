import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pollUntil } from '../../scripts/lib/poll-until.ts';
import { type RunningService, spawnService } from '../support/spawn-service.ts';

/** One ConfigMap generation, swapped in the way the kubelet does it. */
async function publish(dir: string, generation: number, files: Record<string, string>): Promise<void> {
  const name = `..gen_${generation}`;
  await mkdir(join(dir, name));
  for (const [key, value] of Object.entries(files)) await writeFile(join(dir, name, key), `${value}\n`);
  await symlink(name, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const key of Object.keys(files)) {
    await unlink(join(dir, key)).catch(() => {});
    await symlink(join('..data', key), join(dir, key));
  }
}

describe('a running service follows its mounted config directory', () => {
  let root: string;
  let dir: string;
  let service: RunningService;
  let generation = 0;
  const files: Record<string, string> = { LOG_LEVEL: 'info', RATE_LIMIT_MAX: '50' };

  const change = async (patch: Record<string, string>) => {
    Object.assign(files, patch);
    generation += 1;
    await publish(dir, generation, files);
  };
  const get = async () => {
    const response = await fetch(`${service.url}/users`);
    await response.body?.cancel();
    return response;
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'config-files-'));
    dir = join(root, 'config');
    await mkdir(dir);
    await change({});
    service = await spawnService({
      // Every request's line: the level change shows as those lines stopping and coming back.
      env: {
        DATABASE_URL: 'memory://',
        CONFIG_DIR: dir,
        CONFIG_POLL_INTERVAL_MS: '1000',
        REQUEST_LOG: 'all',
      },
    });
  });
  after(async () => {
    await service?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('applies reloadable keys at run time: rate limit and the running logger level', async () => {
    assert.equal((await get()).headers.get('x-ratelimit-limit'), '50');
    await change({ RATE_LIMIT_MAX: '40', LOG_LEVEL: 'warn' });
    await service.waitForLine((line) => /configuration reloaded/.test(line.message), 10_000);
    assert.equal((await get()).headers.get('x-ratelimit-limit'), '40');
    const before = service.lines.length;
    await get();
    await get();
    // At WARN the per-request INFO lines stop; give the buffered writer time to flush anything that came.
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(
      service.lines.slice(before).some((line) => line.message === 'request completed'),
      false,
      'the running logger took the new level',
    );
    await change({ LOG_LEVEL: 'info' });
    // The reload line itself is still written at WARN level, so watch for the effect: requests logged again.
    await pollUntil(
      async () => {
        if (service.lines.slice(before).some((line) => line.message === 'request completed')) return true;
        await get();
        return false;
      },
      { what: 'the level went back to info', timeoutMs: 10_000, intervalMs: 300 },
    );
  });

  it('keeps a restart-only key with a "restart required" WARN', async () => {
    await change({ DB_POOL_MAX: '3' });
    const warn = await service.waitForLine((line) => /restart required/.test(line.message), 10_000);
    assert.equal(warn.level, 'WARN');
    assert.deepEqual(warn.keys, ['DB_POOL_MAX']);
  });

  it('rejects an invalid value whole with an ERROR line and keeps serving on the last good config', async () => {
    await change({ RATE_LIMIT_MAX: 'plenty', LOG_LEVEL: 'debug' });
    const error = await service.waitForLine(
      (line) => /configuration reload rejected/.test(line.message),
      10_000,
    );
    assert.equal(error.level, 'ERROR');
    assert.match(error.message, /RATE_LIMIT_MAX must be an integer/);
    const response = await get();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-ratelimit-limit'), '40', 'nothing half-applied');
    assert.equal((await fetch(`${service.url}/readyz`)).status, 200);
  });
});
