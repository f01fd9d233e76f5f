import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { pollUntil } from '../../scripts/lib/poll-until.ts';
import { freePort } from './server-instances.ts';

/** A server binary listening on a free loopback port, answering its readiness endpoint. */
export interface ServerBinary {
  port: number;
  url: string;
  /** The process' output so far, for failure messages. */
  log(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process has exited. */
  stop(): Promise<void>;
}

export interface ServerBinaryOptions {
  /** Used in error messages, e.g. `Prometheus`. */
  name: string;
  binary: string;
  /** The command line for a given port (the server must listen on 127.0.0.1:port). */
  args: (port: number) => string[];
  /** GET this path until it answers 2xx; default `/-/ready` (Prometheus and Alertmanager). */
  readyPath?: string;
  readyTimeoutMs: number;
}

/**
 * Starts the binary on a free port and waits until it is ready. The free port can be taken between the probe and
 * the bind when many tests start servers, so a process that exits before it is ready is retried on another port
 * (three attempts); one that stays up but never gets ready is killed and reported with its output.
 */
export async function spawnServerBinary(options: ServerBinaryOptions): Promise<ServerBinary> {
  const output: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(options.binary, options.args(port), { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    // Ends the readiness wait as soon as the process exits (or fails to spawn) instead of polling a dead port.
    const ended = new AbortController();
    const stopWaiting = () => ended.abort(new Error(`${options.name} exited`));
    child.once('exit', stopWaiting);
    child.once('error', stopWaiting);
    const url = `http://127.0.0.1:${port}`;
    let notReady: Error | undefined;
    const ready = await pollUntil(
      async () =>
        (await fetch(`${url}${options.readyPath ?? '/-/ready'}`, { signal: AbortSignal.timeout(1_000) })).ok,
      {
        what: `${options.name} ready`,
        timeoutMs: options.readyTimeoutMs,
        intervalMs: 100,
        signal: ended.signal,
      },
    ).catch((error: Error) => {
      notReady = error;
      return false;
    });
    if (ready) {
      return {
        port,
        url,
        log: () => output.join(''),
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const stopped = once(child, 'exit');
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await stopped;
          clearTimeout(timer);
        },
      };
    }
    if (!ended.signal.aborted) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
      throw new Error(`${notReady?.message ?? `${options.name} not ready`}; output: ${output.join('')}`);
    }
  }
  throw new Error(`${options.name} did not start: ${output.join('')}`);
}
