import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pollUntil } from '../../scripts/lib/poll-until.ts';
import { findBinary } from './requirements.ts';

const run = promisify(execFile);

/** A port nothing listens on right now (the kernel's pick for port 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * A PostgreSQL of this test's own (scripts/servers/postgres.sh on a free port in a temp dir), so the test may
 * stop and restart it without disturbing the shared server other suites use.
 */
export interface PostgresInstance {
  url: string;
  port: number;
  dir: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops the server and deletes its data directory. */
  destroy(): Promise<void>;
}

export async function startPostgresInstance(): Promise<PostgresInstance> {
  const port = await freePort();
  // Not created here: the script creates it and hands it to the postgres user.
  const dir = join(tmpdir(), `resilience-pg-${port}-${process.pid}`);
  const env = { ...process.env, PG_TEST_PORT: String(port), PG_TEST_DIR: dir };
  const script = (command: 'start' | 'stop') =>
    run('bash', ['scripts/servers/postgres.sh', command], { env, timeout: 90_000 });
  await script('start');
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    start: async () => {
      await script('start');
    },
    stop: async () => {
      await script('stop');
    },
    destroy: async () => {
      await script('stop').catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A single-member etcd from Debian's `etcd-server` on loopback ports in a temp dir. */
export interface EtcdInstance {
  endpoint: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startEtcdInstance(): Promise<EtcdInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'resilience-etcd-'));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const endpoint = `http://127.0.0.1:${clientPort}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    const peer = `http://127.0.0.1:${peerPort}`;
    child = spawn(
      findBinary('etcd') ?? 'etcd',
      [
        '--name=test',
        `--data-dir=${join(dir, 'data')}`,
        `--listen-client-urls=${endpoint}`,
        `--advertise-client-urls=${endpoint}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=test=${peer}`,
        '--log-level=error',
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch },
      },
    );
    const stderr: string[] = [];
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    const exited = new AbortController();
    child.once('exit', () => exited.abort(new Error(`etcd exited: ${stderr.join('')}`)));
    await pollUntil(
      async () => (await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1_000) })).ok,
      { what: 'etcd healthy', timeoutMs: 30_000, intervalMs: 100, signal: exited.signal },
    ).catch((error: Error) => {
      throw new Error(`${error.message}; stderr: ${stderr.join('')}`);
    });
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    running.kill('SIGTERM');
    await once(running, 'exit');
  };
  await start();
  return {
    endpoint,
    start,
    stop,
    destroy: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
