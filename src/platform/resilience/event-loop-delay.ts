import { monitorEventLoopDelay } from 'node:perf_hooks';

/** The timer resolution of the delay histogram; a delay below it is noise. */
const RESOLUTION_MS = 10;

/**
 * The mean event-loop delay over the last completed window, measured only from `start()` on. Started when the
 * server listens, so the synchronous work of start-up (module evaluation, schema compilation, migrations), which
 * at a fifth of a CPU blocks the loop for seconds, is never read as overload by the first requests.
 */
export class EventLoopDelayWindow {
  readonly #windowMs: number;
  #histogram: ReturnType<typeof monitorEventLoopDelay> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #delayMs = 0;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Mean delay (ms above the timer resolution) of the last completed window; 0 until one has completed. */
  get delayMs(): number {
    return this.#delayMs;
  }

  start(): void {
    if (this.#histogram) return;
    const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    histogram.enable();
    this.#histogram = histogram;
    let windowStart = performance.now();
    this.#timer = setInterval(() => {
      const now = performance.now();
      // No sample yet means the loop was blocked for the whole window: this tick's own lateness is the delay.
      this.#delayMs =
        histogram.count === 0
          ? Math.max(0, now - windowStart - this.#windowMs)
          : Math.max(0, histogram.mean / 1e6 - RESOLUTION_MS);
      windowStart = now;
      histogram.reset();
    }, this.#windowMs).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#histogram?.disable();
    this.#histogram = undefined;
    this.#delayMs = 0;
  }
}
