import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { warmCompileCache } from './compile-cache.ts';
import { type PodLimits, readPodLimits } from './pod-limits.ts';
import { readServiceDefaults, shippedServiceEnv } from './service-defaults.ts';

/** What a sweep over one setting's values is given on its command line. */
export interface SettingSweep {
  /** The setting varied, e.g. WARM_UP_REQUESTS. */
  key: string;
  /** Its values, one start of the service per value and round. */
  variants: string[];
  /** Settings every start gets (`--env KEY=VALUE`). */
  extraEnv: Record<string, string>;
}

/** Reads `--setting KEY=value,value` and the `--env KEY=VALUE` pairs; throws with the expected form otherwise. */
export function parseSettingSweep(setting: string, envPairs: readonly string[]): SettingSweep {
  const match = /^([A-Z][A-Z0-9_]*)=(.+)$/.exec(setting);
  if (!match) throw new Error(`--setting takes KEY=value,value: ${setting}`);
  const extraEnv: Record<string, string> = {};
  for (const pair of envPairs) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`--env takes KEY=VALUE: ${pair}`);
    extraEnv[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return { key: match[1] as string, variants: (match[2] as string).split(','), extraEnv };
}

/**
 * What every start of a sweep shares: the pod's limits, the settings the bundle ships with, and a work directory
 * with a compile cache warmed as the image's (a message instead when it could not be).
 */
export interface ShippedBundle {
  pod: PodLimits;
  shipped: Record<string, string>;
  work: string;
  cache: Awaited<ReturnType<typeof warmCompileCache>>;
}

export async function prepareShippedBundle(root: string, name: string): Promise<ShippedBundle> {
  const pod = await readPodLimits(root);
  const shipped = shippedServiceEnv(readServiceDefaults(root));
  const work = await mkdtemp(join(tmpdir(), `${name}-`));
  const cache = await warmCompileCache({
    root,
    entry: join(root, 'dist/users/main.mjs'),
    work,
    node: process.execPath,
    nodeOptions: pod.nodeOptions,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...shipped },
  });
  if (typeof cache !== 'string')
    console.log(`no compile cache (${cache.failed}): every start compiles the bundle`);
  return { pod, shipped, work, cache };
}
