export interface HealthCheck {
  name: string;
  /** Resolves when healthy; rejects (or is aborted by the signal) when not. */
  check(signal: AbortSignal): Promise<void>;
}

export type CheckStatus = 'pass' | 'fail';

export interface HealthReport {
  status: CheckStatus;
  checks: Record<string, { status: CheckStatus; detail?: string; duration_ms: number }>;
}

/**
 * Three questions Kubernetes asks: is the process alive (liveness: never touches dependencies, so a database
 * outage cannot make the kubelet restart every pod), has start-up finished, and may traffic be sent (readiness).
 */
export class HealthRegistry {
  readonly #readinessChecks: HealthCheck[] = [];
  #started = false;
  #draining = false;
  readonly #timeoutMs: number;

  constructor(options: { timeoutMs: number }) {
    this.#timeoutMs = options.timeoutMs;
  }

  addReadinessCheck(check: HealthCheck): void {
    this.#readinessChecks.push(check);
  }

  markStarted(): void {
    this.#started = true;
  }

  markDraining(): void {
    this.#draining = true;
  }

  get started(): boolean {
    return this.#started;
  }

  get draining(): boolean {
    return this.#draining;
  }

  async readiness(): Promise<HealthReport> {
    const report: HealthReport = { status: 'pass', checks: {} };
    if (!this.#started)
      report.checks.startup = { status: 'fail', detail: 'start-up has not finished', duration_ms: 0 };
    if (this.#draining)
      report.checks.shutdown = { status: 'fail', detail: 'draining for shutdown', duration_ms: 0 };
    const results = await Promise.all(this.#readinessChecks.map((check) => this.#run(check)));
    for (const [name, result] of results) report.checks[name] = result;
    if (Object.values(report.checks).some((check) => check.status === 'fail')) report.status = 'fail';
    return report;
  }

  async #run(check: HealthCheck): Promise<[string, HealthReport['checks'][string]]> {
    const startedAt = performance.now();
    const signal = AbortSignal.timeout(this.#timeoutMs);
    const elapsed = () => Math.round(performance.now() - startedAt);
    try {
      await Promise.race([
        check.check(signal),
        new Promise<never>((_, reject) => {
          signal.addEventListener('abort', () => reject(new Error(`timed out after ${this.#timeoutMs} ms`)), {
            once: true,
          });
        }),
      ]);
      return [check.name, { status: 'pass', duration_ms: elapsed() }];
    } catch (error) {
      return [check.name, { status: 'fail', detail: (error as Error).message, duration_ms: elapsed() }];
    }
  }
}
