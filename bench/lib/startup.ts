import { execFile, spawn } from 'node:child_process';
import { mkdir, readdir, symlink } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { findBinary } from '../../scripts/lib/find-binary.ts';
import type { Contender } from './contenders.ts';
import { freePort, type Started } from './processes.ts';
import { awaitReadyz } from './readiness.ts';
import { IMAGE_FLAGS_CONTENDER } from './results.ts';
import { median, round } from './stats.ts';

const exec = promisify(execFile);

/**
 * Spawn-to-ready of each user-service storage, unconstrained, interleaved. Storage is made once and an uncounted
 * first start initialises it (PGlite directory, PostgreSQL migrations): the counted samples are restarts, as a
 * pod's are.
 */
export async function measureStartup(
  services: readonly Contender[],
  runs: number,
  log: (line: string) => void,
): Promise<{ startupMs: Record<string, number>; notes: string[] }> {
  const samples = new Map<string, number[]>();
  const notes: string[] = [];
  const urls = new Map<Contender, string>();
  for (const c of services) urls.set(c, await c.freshStorage(0));
  for (let run = 0; run <= runs; run++) {
    for (const c of services) {
      let server: Started;
      try {
        server = await c.start(urls.get(c)!);
      } catch (error) {
        notes.push(`start-up sample of ${c.label} failed: ${(error as Error).message.slice(0, 300)}`);
        continue;
      }
      await server.stop();
      const key = c.contender === IMAGE_FLAGS_CONTENDER ? `${c.storage} with image flags` : c.storage;
      if (run > 0) samples.set(key, [...(samples.get(key) ?? []), server.readyMs]);
    }
  }
  const startupMs: Record<string, number> = {};
  for (const [key, values] of samples) {
    startupMs[key] = round(median(values), 1);
    log(
      `start to ready, ${key}: median ${startupMs[key]} ms of ${values.map((v) => Math.round(v)).join(', ')}`,
    );
  }
  return { startupMs, notes };
}

/**
 * node_modules as `npm ci` leaves it, without installing again: every package linked from the checkout's tree,
 * but not its `.cache`, where `npm start` keeps the V8 compile cache that the checkout's own starts filled. With
 * `postinstall`, the install's last step is then run in the clone (`scripts/dev-compile-cache.sh`, the root
 * postinstall's second step): it fills that cache for this clone's paths, as `npm ci` does; without it the clone
 * is as `npm ci --ignore-scripts` leaves it.
 */
async function installLikeNpmCi(root: string, clone: string, postinstall: boolean): Promise<void> {
  const from = join(root, 'node_modules');
  const to = join(clone, 'node_modules');
  await mkdir(to);
  for (const name of await readdir(from))
    if (name !== '.cache') await symlink(join(from, name), join(to, name));
  if (!postinstall) return;
  await exec('sh', [join(clone, 'scripts/dev-compile-cache.sh')], {
    cwd: clone,
    env: {
      PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
      HOME: process.env.HOME ?? '/tmp',
    },
    timeout: 120_000,
  });
}

export interface FreshCloneStart {
  /** Median first `npm start` after the install: the figure the target is about. */
  afterInstallMs: number;
  /** Median first `npm start` of a clone installed without the postinstall's compile cache (--ignore-scripts). */
  uncachedMs: number;
}

/** Spawn to the first 200 from /readyz of `npm start` in `clone`, then stops it. */
async function timeNpmStart(root: string, clone: string): Promise<number | string> {
  const port = await freePort();
  const taskset = findBinary('taskset');
  const startedAt = performance.now();
  // Its own process group, so npm, its shell and node stop together. A developer's first start has every core;
  // the benchmark runner itself is pinned to the load generator's, which a child would inherit (one core made
  // this start 5.1 s against 3.0 s).
  const [command, args] = taskset
    ? [taskset, ['--cpu-list', `0-${cpus().length - 1}`, 'npm', 'start', '--silent']]
    : ['npm', ['start', '--silent']];
  const child = spawn(command, args, {
    cwd: clone,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
      HOME: process.env.HOME ?? '/tmp',
      HOST: '127.0.0.1',
      PORT: String(port),
    },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = (
    await awaitReadyz(`http://127.0.0.1:${port}`, { startedAt, exited: () => child.exitCode !== null })
  )?.readyMs;
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {
    // already gone
  }
  await Promise.race([exited, sleep(15_000)]);
  if (ready !== undefined) return ready;
  const why = stderr
    .split('\n')
    .filter((l) => /Error|error:|url:/.test(l))
    .slice(-2)
    .join(' ')
    .trim();
  return `fresh clone: npm start was not ready within 60 s (exit ${child.exitCode}${why ? `: ${why.slice(0, 300)}` : ''})`;
}

/**
 * The first `npm start` of a fresh clone: the committed tree cloned to a temporary directory, installed as
 * `npm ci` leaves it (installLikeNpmCi), no .data (so PGlite is created and migrated), spawn to the first 200 from
 * /readyz. Each sample is two clones: one as installed, one without the postinstall's compile cache, so the
 * figure without the install's warm-up stays visible. Each start has a clone of its own: deleting the last sample's
 * 40 MB data directory just before would make the file system's discards part of the next start, which no real
 * first start pays. Returns the medians.
 */
export async function measureFreshClone(
  root: string,
  work: string,
  samples: number,
  log: (line: string) => void,
): Promise<FreshCloneStart | string> {
  const afterInstall: number[] = [];
  const uncached: number[] = [];
  for (let i = 0; i < samples; i++) {
    for (const [kind, values] of [
      ['installed', afterInstall],
      ['uncached', uncached],
    ] as const) {
      const clone = join(work, `fresh-clone-${i + 1}-${kind}`);
      try {
        await exec('git', ['clone', '--quiet', '--depth', '1', `file://${root}`, clone]);
        await installLikeNpmCi(root, clone, kind === 'installed');
      } catch (error) {
        return `fresh clone: could not clone and install (${(error as Error).message.split('\n')[0]})`;
      }
      const ready = await timeNpmStart(root, clone);
      if (typeof ready === 'string') return ready;
      values.push(ready);
    }
  }
  const result = { afterInstallMs: round(median(afterInstall), 1), uncachedMs: round(median(uncached), 1) };
  log(
    `first npm start of a fresh clone: median ${result.afterInstallMs} ms after the install ` +
      `(${afterInstall.map((v) => Math.round(v)).join(', ')}); without its compile cache ${result.uncachedMs} ms ` +
      `(${uncached.map((v) => Math.round(v)).join(', ')})`,
  );
  return result;
}
