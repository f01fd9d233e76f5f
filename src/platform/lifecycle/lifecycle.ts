import type { Logger } from 'pino';

type Closer = { name: string; close: () => Promise<void> | void };

export interface LifecycleOptions {
  logger: Logger;
  /** Bound on the whole shutdown; past it remaining closers are abandoned and the exit code is 1. */
  shutdownTimeoutMs: number;
  /**
   * Time between readiness turning 503 and the listener closing, for load balancers that have not yet seen the
   * readiness change. Zero when the platform already waits (a Kubernetes preStop sleep does).
   */
  drainDelayMs?: number;
  flushLogs?: () => void;
  exit?: (code: number) => void;
}

/**
 * Owns the order of shutdown. Whatever opens a resource registers its closer here right after opening it;
 * closers run in reverse order of registration, so the HTTP server drains before the pools it uses close.
 */
export class Lifecycle {
  readonly #closers: Closer[] = [];
  readonly #drainListeners: (() => void)[] = [];
  readonly #options: LifecycleOptions;
  #shutdown: Promise<number> | undefined;

  constructor(options: LifecycleOptions) {
    this.#options = options;
  }

  onShutdown(name: string, close: Closer['close']): void {
    this.#closers.push({ name, close });
  }

  /** Called first on shutdown, before anything closes: readiness turns 503 here. */
  onDrain(listener: () => void): void {
    this.#drainListeners.push(listener);
  }

  get shuttingDown(): boolean {
    return this.#shutdown !== undefined;
  }

  installProcessHandlers(): void {
    const exit = this.#options.exit ?? ((code: number) => process.exit(code));
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        void this.shutdown(signal).then(exit);
      });
    }
    const crash = (kind: string) => (error: unknown) => {
      this.#options.logger.error({ error, kind }, `${kind}: the process will exit`);
      this.#options.flushLogs?.();
      exit(1);
    };
    process.on('uncaughtException', crash('uncaught exception'));
    process.on('unhandledRejection', crash('unhandled rejection'));
  }

  /** Idempotent: a second signal while draining waits for the first shutdown. Resolves to the exit code. */
  shutdown(reason: string): Promise<number> {
    this.#shutdown ??= this.#run(reason);
    return this.#shutdown;
  }

  async #run(reason: string): Promise<number> {
    const { logger, shutdownTimeoutMs } = this.#options;
    const startedAt = performance.now();
    logger.info({ reason, timeout_ms: shutdownTimeoutMs }, 'shutdown started: draining');
    for (const listener of this.#drainListeners) listener();
    if (this.#options.drainDelayMs)
      await new Promise((resolve) => setTimeout(resolve, this.#options.drainDelayMs));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), shutdownTimeoutMs);
      timer.unref();
    });
    const outcome = await Promise.race([this.#closeAll(), timedOut]);
    clearTimeout(timer);
    const duration_ms = Math.round(performance.now() - startedAt);
    const code = outcome === 'timeout' ? 1 : outcome;
    if (outcome === 'timeout')
      logger.error({ duration_ms }, 'shutdown timed out; exiting with resources still open');
    else logger.info({ duration_ms, exit_code: code }, 'shutdown complete');
    this.#options.flushLogs?.();
    return code;
  }

  async #closeAll(): Promise<number> {
    let code = 0;
    for (const closer of [...this.#closers].reverse()) {
      try {
        await closer.close();
        this.#options.logger.debug({ resource: closer.name }, 'closed');
      } catch (error) {
        code = 1;
        this.#options.logger.error({ error, resource: closer.name }, 'failed to close resource');
      }
    }
    return code;
  }
}
