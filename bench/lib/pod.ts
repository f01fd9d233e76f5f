import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLimitedGroup, formatStats } from './cgroup.ts';
import { parseCpuQuantity, parseMemoryQuantity, readPodLimits } from './pod-limits.ts';

/**
 * `node bench/lib/pod.ts [--cpu 200m] [--memory 128Mi] [--no-node-options] -- <command...>`: runs a command under
 * the Deployment's CPU and memory limits (read from deploy/k8s/base) with its NODE_OPTIONS, and prints the
 * group's peak memory, OOM kills and CPU throttling when the command exits. Exits with the command's status.
 */
const ROOT = resolve(import.meta.dirname, '../..');

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      cpu: { type: 'string' },
      memory: { type: 'string' },
      'no-node-options': { type: 'boolean' },
      help: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help || positionals.length === 0) {
    console.error(
      'usage: node bench/lib/pod.ts [--cpu 200m] [--memory 128Mi] [--no-node-options] -- <command...>',
    );
    return values.help ? 0 : 2;
  }
  const pod = await readPodLimits(ROOT);
  const limits = {
    cpus: values.cpu ? parseCpuQuantity(values.cpu) : pod.cpus,
    memoryBytes: values.memory ? parseMemoryQuantity(values.memory) : pod.memoryBytes,
  };
  const group = createLimitedGroup({
    name: `user-service-pod-${process.pid}`,
    limits,
    ...(process.env.BENCH_DOCKER_IMAGE ? { dockerImage: process.env.BENCH_DOCKER_IMAGE } : {}),
    dockerMounts: [ROOT, '/tmp'],
  });
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  if (!values['no-node-options'] && pod.nodeOptions.length > 0)
    env.NODE_OPTIONS = [env.NODE_OPTIONS ?? '', ...pod.nodeOptions].join(' ').trim();
  const [command, ...args] = positionals as [string, ...string[]];
  const wrapped = group.wrap(
    command,
    args,
    group.kind === 'docker' ? { NODE_OPTIONS: env.NODE_OPTIONS ?? '' } : {},
  );
  console.error(`pod: ${group.kind}; ${pod.source}; NODE_OPTIONS=${env.NODE_OPTIONS ?? ''}`);
  const child = spawn(wrapped.command, wrapped.args, { stdio: 'inherit', env });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((done) =>
    child.once('exit', (c, s) => done([c, s])),
  );
  console.error(`pod: ${formatStats(await group.stats(), limits)}; exit ${code ?? signal}`);
  await group.remove();
  // A signal exit maps to 128 + its number, as a shell reports it (137 for the OOM killer's SIGKILL).
  return code ?? 128 + (signal ? constants.signals[signal] : 0);
}

process.exitCode = await main();
