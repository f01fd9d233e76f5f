import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { LogLine } from './log-capture.ts';

export interface RunningService {
  url: string;
  port: number;
  child: ChildProcess;
  /** Every stdout line so far, parsed; stderr lines are kept raw. */
  lines: LogLine[];
  stderr: string[];
  waitForLine(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface SpawnOptions {
  /** Module to run with the repo's Node; defaults to the users service entry point. */
  entry?: string;
  /** Runs this command instead of the repo's Node on `entry` (e.g. `['npm', 'start']`). */
  command?: [string, ...string[]];
  /** Own process group, so whatever the command leaves behind can be ended with `process.kill(-pid)`. */
  detached?: boolean;
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  cwd?: string;
}

/** Starts a service as its own process (PORT=0 unless given) and waits for its "ready to serve" line. */
export async function spawnService(options: SpawnOptions = {}): Promise<RunningService> {
  const [file, ...args] = options.command ?? [
    process.execPath,
    options.entry ?? 'src/services/users/main.ts',
  ];
  const child = spawn(file, args, {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'test', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  const lines: LogLine[] = [];
  const stderr: string[] = [];
  const waiters = new Set<{ predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      stderr.push(`stdout (not JSON): ${text}`);
      return;
    }
    lines.push(line);
    for (const waiter of waiters) {
      if (waiter.predicate(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  });
  createInterface({ input: child.stderr! }).on('line', (text) => stderr.push(text));
  const exited = once(child, 'exit').then(([code]) => code as number | null);

  const waitForLine = (predicate: (line: LogLine) => boolean, timeoutMs = 15_000) => {
    const seen = lines.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise<LogLine>((resolve, reject) => {
      const waiter = { predicate, resolve };
      waiters.add(waiter);
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr.join('\n')}`));
      }, timeoutMs);
      exited.then((code) => {
        if (!waiters.has(waiter)) return;
        waiters.delete(waiter);
        clearTimeout(timer);
        reject(
          new Error(`process exited (${code}) before the expected log line; stderr: ${stderr.join('\n')}`),
        );
      });
      const original = waiter.resolve;
      waiter.resolve = (line) => {
        clearTimeout(timer);
        original(line);
      };
    });
  };

  const ready = await waitForLine(
    (line) => line.message === 'ready to serve',
    options.readyTimeoutMs ?? 30_000,
  );
  const port = ready.port as number;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    lines,
    stderr,
    waitForLine,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
