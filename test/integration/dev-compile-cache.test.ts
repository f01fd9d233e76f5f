import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const CACHE = 'node_modules/.cache/node-compile-cache';

/** A checkout as `npm ci --ignore-scripts` leaves it: the sources, and every package but the compile cache. */
async function checkout(dir: string): Promise<void> {
  for (const part of ['src', 'scripts', 'package.json'])
    await cp(join(ROOT, part), join(dir, part), { recursive: true });
  await mkdir(join(dir, 'node_modules'));
  for (const name of await readdir(join(ROOT, 'node_modules')))
    if (name !== '.cache') await symlink(join(ROOT, 'node_modules', name), join(dir, 'node_modules', name));
}

function runScript(dir: string, env: Record<string, string> = {}) {
  return exec('sh', [join(dir, 'scripts/dev-compile-cache.sh')], {
    cwd: dir,
    env: { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, HOME: dir, ...env },
    timeout: 120_000,
  });
}

/** What Node says about the cache when `specifiers` are imported as `npm start` would (same cache directory). */
async function cacheReport(dir: string, specifiers: readonly string[]): Promise<string> {
  const imports = specifiers.map((s) => `await import(${JSON.stringify(s)});`).join('');
  const { stderr } = await exec(process.execPath, ['--input-type=module', '-e', imports], {
    cwd: dir,
    env: { NODE_COMPILE_CACHE: CACHE, NODE_DEBUG_NATIVE: 'COMPILE_CACHE', PATH: process.env.PATH ?? '' },
    timeout: 60_000,
  });
  return stderr;
}

describe('the install warms the compile cache of npm start (scripts/dev-compile-cache.sh)', () => {
  const work = mkdtemp(join(tmpdir(), 'dev-compile-cache-'));
  after(async () => rm(await work, { recursive: true, force: true }));
  const module = 'src/services/users/app.ts';

  it('leaves the type-stripped sources and their V8 code where npm start finds them', async () => {
    const dir = join(await work, 'installed');
    await mkdir(dir);
    await checkout(dir);
    await runScript(dir);
    const report = await cacheReport(dir, [`./${module}`, '@electric-sql/pglite']);
    const url = `file://${dir}/${module}`;
    assert.ok(report.includes(`transpile cache for StrippedTypeScript ${url}...success`), 'sources stripped');
    assert.ok(report.includes(`V8 code cache for ESM ${url} was accepted`), 'V8 code of the sources');
    // The embedded database's code as well: the warm start ran on PGlite, which loads only for a database.
    assert.ok(
      /V8 code cache for ESM file:\/\/\S*@electric-sql\/pglite\/\S* was accepted/.test(report),
      'V8 code of PGlite',
    );
  });

  it('without it the first start compiles (the check above can fail)', async () => {
    const dir = join(await work, 'ignore-scripts');
    await mkdir(dir);
    await checkout(dir);
    const report = await cacheReport(dir, [`./${module}`]);
    const url = `file://${dir}/${module}`;
    assert.ok(report.includes(`no transpile cache for StrippedTypeScript ${url}`), 'sources stripped again');
    assert.ok(!report.includes(`V8 code cache for ESM ${url} was accepted`), 'no V8 code of the sources');
  });

  it('does nothing for a production install (npm ci --omit=dev)', async () => {
    const dir = join(await work, 'omit-dev');
    await mkdir(dir);
    await checkout(dir);
    await runScript(dir, { npm_config_omit: 'dev' });
    await assert.rejects(stat(join(dir, CACHE)), { code: 'ENOENT' });
  });
});
