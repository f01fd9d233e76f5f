import { execFile } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** A CPU and memory ceiling, as a pod's `resources.limits`. */
export interface Limits {
  cpus: number;
  memoryBytes: number;
}

/** What the group saw over its life: the kernel's own figures, not samples. */
export interface GroupStats {
  /** Peak memory charged to the group (page cache included, as the kernel counts it against the limit). */
  peakBytes: number | null;
  oomKills: number | null;
  /** CFS periods in which the group hit its quota, and the time it spent waiting. */
  throttledPeriods: number | null;
  throttledMs: number | null;
}

/** A command line, rewritten so the process starts inside the limits before it loads anything. */
export interface Wrapped {
  command: string;
  args: string[];
}

export interface LimitedGroup {
  kind: 'cgroup-v1' | 'cgroup-v2' | 'docker';
  limits: Limits;
  wrap: (command: string, args: readonly string[], env?: Record<string, string>) => Wrapped;
  stats: () => Promise<GroupStats>;
  /** Removes the group once its processes are gone (the docker container removes itself). */
  remove: () => Promise<void>;
}

const V1_CPU = '/sys/fs/cgroup/cpu';
const V1_MEMORY = '/sys/fs/cgroup/memory';
const CFS_PERIOD_US = 100_000;

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return existsSync(join(dir, 'cgroup.procs'));
  } catch {
    return false;
  }
}

function readNumber(file: string): number | null {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

/** `key value` lines (memory.events, memory.oom_control, cpu.stat) as a map. */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && Number.isFinite(Number(value))) out[key] = Number(value);
  }
  return out;
}

function readKeyValues(file: string): Record<string, number> | null {
  try {
    return parseKeyValues(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** The CFS quota for a CPU share: 0.2 CPU = 20 ms in every 100 ms period. */
export function cfsQuotaUs(cpus: number, periodUs = CFS_PERIOD_US): number {
  return Math.max(1000, Math.round(cpus * periodUs));
}

/**
 * `sh -c` joins the group by writing its own pid to each cgroup.procs, then execs the command: the server's first
 * instruction already runs under the limits, so its start-up is measured as a pod's is.
 */
function joinAndExec(procsFiles: readonly string[], command: string, args: readonly string[]): Wrapped {
  const joins = procsFiles.map((f) => `echo $$ > '${f}'`).join(' && ');
  return { command: 'sh', args: ['-c', `${joins} && exec "$@"`, 'sh', command, ...args] };
}

function cgroupV1(name: string, limits: Limits): LimitedGroup {
  const cpu = join(V1_CPU, name);
  const memory = join(V1_MEMORY, name);
  mkdirSync(cpu, { recursive: true });
  mkdirSync(memory, { recursive: true });
  writeFileSync(join(cpu, 'cpu.cfs_period_us'), String(CFS_PERIOD_US));
  writeFileSync(join(cpu, 'cpu.cfs_quota_us'), String(cfsQuotaUs(limits.cpus)));
  writeFileSync(join(memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
  // memsw (memory + swap) must be >= the memory limit; equal means no swap, as a pod has none.
  if (existsSync(join(memory, 'memory.memsw.limit_in_bytes')))
    writeFileSync(join(memory, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes));
  return {
    kind: 'cgroup-v1',
    limits,
    wrap: (command, args) =>
      joinAndExec([join(cpu, 'cgroup.procs'), join(memory, 'cgroup.procs')], command, args),
    stats: async () => {
      const cpuStat = readKeyValues(join(cpu, 'cpu.stat'));
      return {
        peakBytes: readNumber(join(memory, 'memory.max_usage_in_bytes')),
        oomKills: readKeyValues(join(memory, 'memory.oom_control'))?.oom_kill ?? null,
        throttledPeriods: cpuStat?.nr_throttled ?? null,
        throttledMs: cpuStat?.throttled_time === undefined ? null : cpuStat.throttled_time / 1e6,
      };
    },
    remove: async () => {
      await removeWhenEmpty(cpu);
      await removeWhenEmpty(memory);
    },
  };
}

/** The cgroup v2 hierarchy with cpu and memory delegable from its root, when there is one. */
function v2Root(): string | undefined {
  for (const root of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    try {
      const controllers = readFileSync(join(root, 'cgroup.controllers'), 'utf8').split(/\s+/);
      if (controllers.includes('cpu') && controllers.includes('memory') && writable(root)) return root;
    } catch {
      // not a v2 mount
    }
  }
  return undefined;
}

function cgroupV2(root: string, name: string, limits: Limits): LimitedGroup {
  writeFileSync(join(root, 'cgroup.subtree_control'), '+cpu +memory');
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cpu.max'), `${cfsQuotaUs(limits.cpus)} ${CFS_PERIOD_US}`);
  writeFileSync(join(dir, 'memory.max'), String(limits.memoryBytes));
  if (existsSync(join(dir, 'memory.swap.max'))) writeFileSync(join(dir, 'memory.swap.max'), '0');
  return {
    kind: 'cgroup-v2',
    limits,
    wrap: (command, args) => joinAndExec([join(dir, 'cgroup.procs')], command, args),
    stats: async () => {
      const cpuStat = readKeyValues(join(dir, 'cpu.stat'));
      return {
        // memory.peak exists from Linux 5.19; older kernels have no kernel-kept peak.
        peakBytes: readNumber(join(dir, 'memory.peak')),
        oomKills: readKeyValues(join(dir, 'memory.events'))?.oom_kill ?? null,
        throttledPeriods: cpuStat?.nr_throttled ?? null,
        throttledMs: cpuStat?.throttled_usec === undefined ? null : cpuStat.throttled_usec / 1000,
      };
    },
    remove: () => removeWhenEmpty(dir),
  };
}

/** rmdir fails while the last process is still being reaped; a few short retries cover that. */
async function removeWhenEmpty(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/**
 * `docker run --cpus --memory` when no cgroup hierarchy is writable. The host network and the repository mounted
 * at its own path keep URLs and paths unchanged; the image needs only a libc for the node binary.
 */
function dockerGroup(name: string, limits: Limits, image: string, mounts: readonly string[]): LimitedGroup {
  let oomKilled: boolean | null = null;
  return {
    kind: 'docker',
    limits,
    wrap: (command, args, env = {}) => ({
      command: 'docker',
      args: [
        'run',
        '--rm=false',
        '--name',
        name,
        '--network',
        'host',
        `--cpus=${limits.cpus}`,
        `--memory=${limits.memoryBytes}`,
        `--memory-swap=${limits.memoryBytes}`,
        ...mounts.flatMap((m) => ['-v', `${m}:${m}`]),
        ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
        '--entrypoint',
        command,
        image,
        ...args,
      ],
    }),
    stats: async () => {
      const state = await exec('docker', ['inspect', '-f', '{{.State.OOMKilled}}', name]).catch(() => null);
      if (state) oomKilled = state.stdout.trim() === 'true';
      return {
        peakBytes: null,
        oomKills: oomKilled === null ? null : Number(oomKilled),
        throttledPeriods: null,
        throttledMs: null,
      };
    },
    remove: async () => {
      await exec('docker', ['rm', '-f', name]).catch(() => {});
    },
  };
}

export interface GroupOptions {
  /** A unique name per group; several can live at once. */
  name: string;
  limits: Limits;
  /** For the docker fallback: an image with a libc, and host paths the command needs (mounted read-write). */
  dockerImage?: string;
  dockerMounts?: readonly string[];
}

/** Which mechanism this machine offers, in order of preference, or why none is usable. */
export function limitMechanism(): 'cgroup-v1' | 'cgroup-v2' | 'docker' {
  if (writable(V1_CPU) && writable(V1_MEMORY)) return 'cgroup-v1';
  if (v2Root()) return 'cgroup-v2';
  return 'docker';
}

export function createLimitedGroup({
  name,
  limits,
  dockerImage,
  dockerMounts = [],
}: GroupOptions): LimitedGroup {
  const mechanism = limitMechanism();
  if (mechanism === 'cgroup-v1') return cgroupV1(name, limits);
  if (mechanism === 'cgroup-v2') return cgroupV2(v2Root()!, name, limits);
  if (!dockerImage)
    throw new Error(
      'no writable cgroup hierarchy (run as root) and no image for the docker fallback (BENCH_DOCKER_IMAGE)',
    );
  return dockerGroup(name, limits, dockerImage, dockerMounts);
}

export function formatStats(stats: GroupStats, limits: Limits): string {
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
  return [
    `limits ${limits.cpus} CPU, ${mb(limits.memoryBytes)} MiB`,
    `peak memory ${stats.peakBytes === null ? 'n/a' : `${mb(stats.peakBytes)} MiB`}`,
    `OOM kills ${stats.oomKills ?? 'n/a'}`,
    `CPU throttled ${stats.throttledPeriods ?? 'n/a'} periods (${stats.throttledMs === null ? 'n/a' : `${Math.round(stats.throttledMs)} ms`})`,
  ].join(', ');
}
