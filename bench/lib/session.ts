import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type OtlpSink, startOtlpSink } from './otlp-sink.ts';
import type { BenchDatabase } from './postgres.ts';
import type { Started } from './processes.ts';

/**
 * What one benchmark run holds open: a work directory, the OTLP sink, its databases and every server still
 * running. close() releases all of it, also on Ctrl-C or SIGTERM.
 */
export interface Session {
  work: string;
  sink: OtlpSink;
  /** Registers a running server; the returned function forgets it once stopped. */
  track: (server: Started) => () => void;
  adoptDatabase: (database: BenchDatabase) => void;
  /** Runs at close, after the servers have stopped (e.g. removing a cgroup). */
  onClose: (cleanup: () => Promise<void>) => () => void;
  close: () => Promise<void>;
}

export async function openSession(): Promise<Session> {
  const work = await mkdtemp(join(tmpdir(), 'user-service-bench-'));
  const sink = await startOtlpSink();
  const servers = new Set<Started>();
  const databases: BenchDatabase[] = [];
  const cleanups = new Set<() => Promise<void>>();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    await Promise.allSettled([...servers].map((s) => s.stop()));
    await Promise.allSettled([...cleanups].map((cleanup) => cleanup()));
    await sink.close();
    await Promise.allSettled(databases.map((d) => d.drop()));
    await rm(work, { recursive: true, force: true });
  };
  const interrupt = () => void close().then(() => process.exit(130));
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  return {
    work,
    sink,
    track: (server) => {
      servers.add(server);
      return () => servers.delete(server);
    },
    adoptDatabase: (database) => databases.push(database),
    onClose: (cleanup) => {
      cleanups.add(cleanup);
      return () => cleanups.delete(cleanup);
    },
    close,
  };
}
