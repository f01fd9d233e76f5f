import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Wrapped } from './cgroup.ts';
import { awaitReadyz } from './readiness.ts';

export interface Started {
  child: ChildProcess;
  pid: number;
  url: string;
  /** Spawn to the first 200 from /readyz. */
  readyMs: number;
  /** Spawn to the first answer from /readyz, whatever its status: the server listens (warm-up may follow). */
  listenMs: number;
  stderrTail: () => string;
  stop: () => Promise<void>;
}

export interface StartOptions {
  command: string;
  args: readonly string[];
  env: Record<string, string>;
  cwd?: string;
  /** Pin the server to this core (taskset -c) when pinning is available. */
  cpu?: number;
  port: number;
  readyTimeoutMs?: number;
  /** Rewrites the command line to start inside resource limits (LimitedGroup.wrap). */
  wrap?: (command: string, args: readonly string[], env: Record<string, string>) => Wrapped;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

/**
 * Starts a server with stdout on /dev/null (its logs are written, serialised and discarded: the cost of logging
 * stays, the cost of a reader does not land on the load generator's core), and waits for /readyz 200.
 */
export async function startServer(options: StartOptions): Promise<Started> {
  const devNull = openSync('/dev/null', 'w');
  const limited = options.wrap?.(options.command, options.args, options.env) ?? {
    command: options.command,
    args: [...options.args],
  };
  const [command, args] =
    options.cpu === undefined
      ? [limited.command, limited.args]
      : ['taskset', ['-c', String(options.cpu), limited.command, ...limited.args]];
  const startedAt = performance.now();
  const child = spawn(command, args, {
    env: options.env,
    cwd: options.cwd,
    stdio: ['ignore', devNull, 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${options.port}`;
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const killed = await Promise.race([exit.then(() => true), sleep(15_000).then(() => false)]);
    if (!killed) {
      child.kill('SIGKILL');
      await exit;
    }
  };
  const readiness = await awaitReadyz(url, {
    startedAt,
    exited: () => exited,
    ...(options.readyTimeoutMs === undefined ? {} : { timeoutMs: options.readyTimeoutMs }),
  });
  if (readiness) {
    return { child, pid: child.pid!, url, ...readiness, stderrTail: () => stderr, stop };
  }
  if (exited) throw new Error(`${command} exited before it was ready: ${stderr}`);
  await stop();
  throw new Error(`${command} was not ready within ${options.readyTimeoutMs ?? 60_000} ms: ${stderr}`);
}

export function readRssMb(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples VmRSS every 50 ms until stopped; returns the peak in MB (0 where /proc is missing). */
export function sampleRss(pid: number): { stop: () => number } {
  let peak = readRssMb(pid) ?? 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, readRssMb(pid) ?? 0);
  }, 50);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, readRssMb(pid) ?? 0);
    },
  };
}
