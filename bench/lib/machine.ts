import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { cpus, hostname, release } from 'node:os';
import { promisify } from 'node:util';
import { round } from './stats.ts';

const exec = promisify(execFile);

async function version(file: string, args: string[]): Promise<string | null> {
  return exec(file, args)
    .then(({ stdout, stderr }) => (stdout || stderr).trim().split('\n')[0] ?? null)
    .catch(() => null);
}

export async function describeMachine(root: string, wrk: boolean): Promise<Record<string, unknown>> {
  const meminfo = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  const memKb = Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? 0);
  return {
    host: hostname(),
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memory_gb: round(memKb / 1024 / 1024, 1),
    kernel: release(),
    node: process.version,
    go: await version('go', ['version']),
    wrk: wrk ? await version('wrk', ['--version']) : null,
    commit: await version('git', ['-C', root, 'rev-parse', '--short', 'HEAD']),
    // The bundle is built from the working tree: uncommitted source changes are part of what was measured.
    uncommitted_src: await exec('git', ['-C', root, 'status', '--porcelain', '--', 'src', 'scripts/build.ts'])
      .then(({ stdout }) => stdout.split('\n').filter(Boolean).length)
      .catch(() => null),
    load_average: await readFile('/proc/loadavg', 'utf8')
      .then((text) => text.split(' ').slice(0, 3).join(' '))
      .catch(() => null),
  };
}

/** Size of a built user-service image, when an engine answers and such an image exists; null otherwise. */
export async function imageSizeMb(docker: boolean): Promise<number | null> {
  if (!docker) return null;
  try {
    const { stdout } = await exec(
      'docker',
      ['images', '--filter', 'label=org.opencontainers.image.title=users', '--format', '{{.ID}}'],
      { timeout: 10_000 },
    );
    const id = stdout.trim().split('\n')[0];
    if (!id) return null;
    const size = await exec('docker', ['image', 'inspect', '-f', '{{.Size}}', id], { timeout: 10_000 });
    return round(Number(size.stdout.trim()) / 1e6, 1);
  } catch {
    return null;
  }
}
