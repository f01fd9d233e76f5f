import { execFile } from 'node:child_process';
import { cp, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/**
 * A V8 compile cache for the bundle, written as the image's build writes its own (deploy/docker/Dockerfile runs
 * scripts/docker/warm-compile-cache.ts with the runtime's Node and NODE_OPTIONS): one start to ready, then exit.
 * Returns the directory, or a reason when the warm-up failed (the pod runs then start without a cache).
 */
export async function warmCompileCache(options: {
  root: string;
  /** The bundle to start, e.g. dist/users/main.mjs. */
  entry: string;
  work: string;
  node: string;
  nodeOptions: readonly string[];
  env: Record<string, string>;
}): Promise<string | { failed: string }> {
  const dir = await mkdtemp(join(options.work, 'compile-cache-'));
  try {
    const { stdout, stderr } = await exec(
      options.node,
      [join(options.root, 'scripts/docker/warm-compile-cache.ts'), options.entry],
      {
        env: { ...options.env, NODE_COMPILE_CACHE: dir, NODE_OPTIONS: options.nodeOptions.join(' ') },
        timeout: 120_000,
      },
    );
    // The script exits 0 without a cache too (an image still builds without one): its own line says it worked.
    if (stdout.includes('compile cache written')) return dir;
    return { failed: stderr.trim().split('\n').at(-1) || 'no compile cache written' };
  } catch (error) {
    return { failed: (error as Error).message.split('\n')[0] ?? 'unknown' };
  }
}

/** Each pod starts from the image's cache as built, never from what an earlier start added to it. */
export async function copyOfCompileCache(cache: string, work: string): Promise<string> {
  const copy = await mkdtemp(join(work, 'compile-cache-copy-'));
  await cp(cache, copy, { recursive: true });
  return copy;
}
