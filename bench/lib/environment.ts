import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { findBinary } from '../../scripts/lib/find-binary.ts';

/** What the machine offers the benchmark; probed once by the driver, never at import. */
export interface BenchEnvironment {
  /** Servers on one core, load generator and runner on the other (taskset and two cores). */
  pinning: boolean;
  serverCpu: number | undefined;
  loadCpu: number | undefined;
  wrk: boolean;
  go: boolean;
  docker: boolean;
}

export function probeEnvironment(): BenchEnvironment {
  const pinning = findBinary('taskset') !== undefined && cpus().length >= 2;
  return {
    pinning,
    serverCpu: pinning ? 1 : undefined,
    loadCpu: pinning ? 0 : undefined,
    wrk: findBinary('wrk') !== undefined,
    go: findBinary('go') !== undefined,
    docker: findBinary('docker') !== undefined,
  };
}

/** Moves the runner (readiness polls, RSS sampling, the OTLP sink) onto the load generator's core. */
export function pinRunner(environment: BenchEnvironment): void {
  if (environment.loadCpu === undefined) return;
  execFileSync('taskset', ['-a', '-pc', String(environment.loadCpu), String(process.pid)], {
    stdio: 'ignore',
  });
}
