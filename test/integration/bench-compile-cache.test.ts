import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { copyOfCompileCache, warmCompileCache } from '../../bench/lib/compile-cache.ts';

const ROOT = resolve(import.meta.dirname, '../..');

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length));
}

describe('benchmark compile cache (as the image builds it)', () => {
  const work = mkdtemp(join(tmpdir(), 'bench-compile-cache-'));
  after(async () => rm(await work, { recursive: true, force: true }));

  it('writes the cache of a service started to ready, and hands each pod a copy of its own', async () => {
    const dir = await work;
    // A stand-in service: says it is ready as the real one does, and exits cleanly on SIGTERM.
    const entry = join(dir, 'service.mjs');
    await writeFile(
      entry,
      `process.on('SIGTERM', () => process.exit(0));
setInterval(() => {}, 1000);
console.log(JSON.stringify({ message: 'ready to serve' }));\n`,
    );
    const cache = await warmCompileCache({
      root: ROOT,
      entry,
      work: dir,
      node: process.execPath,
      nodeOptions: ['--max-semi-space-size=4'],
      env: { PATH: process.env.PATH ?? '' },
    });
    assert.equal(typeof cache, 'string', JSON.stringify(cache));
    const written = await filesUnder(cache as string);
    assert.ok(written.length > 0, 'Node wrote the compile cache at exit');

    const copy = await copyOfCompileCache(cache as string, dir);
    assert.notEqual(copy, cache);
    assert.deepEqual((await filesUnder(copy)).sort(), [...written].sort());
    await writeFile(join(copy, 'added-by-a-pod'), '');
    assert.deepEqual((await filesUnder(cache as string)).sort(), [...written].sort());
  });

  it('reports a service that never gets ready instead of returning a cache', async () => {
    const dir = await work;
    const entry = join(dir, 'broken.mjs');
    await writeFile(entry, `process.exit(3);\n`);
    const cache = await warmCompileCache({
      root: ROOT,
      entry,
      work: dir,
      node: process.execPath,
      nodeOptions: [],
      env: { PATH: process.env.PATH ?? '' },
    });
    assert.equal(typeof cache, 'object');
    assert.match((cache as { failed: string }).failed, /exited with 3/);
  });
});
