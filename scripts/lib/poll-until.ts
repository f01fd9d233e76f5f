import { setTimeout as sleep } from 'node:timers/promises';

export interface PollOptions {
  /** What is awaited, for the timeout message ("the service ready"). */
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /** Stops waiting early, e.g. when the process being polled has exited; rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Calls `probe` until it returns something other than undefined, false or null, and resolves with that. A probe
 * that throws counts as "not yet" (a server not listening yet refuses connections); the last error is in the
 * timeout message. For state that changes without an event to await; bounded by `timeoutMs`.
 */
export async function pollUntil<T>(
  probe: () => T | undefined | false | null | Promise<T | undefined | false | null>,
  options: PollOptions,
): Promise<T> {
  const deadline = performance.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const value = await probe();
      if (value !== undefined && value !== false && value !== null) return value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() >= deadline) {
      const last =
        lastError === undefined ? '' : `; last error: ${(lastError as Error).message ?? lastError}`;
      throw new Error(`${options.what}: not within ${options.timeoutMs} ms${last}`, { cause: lastError });
    }
    await sleep(options.intervalMs ?? 50, undefined, options.signal ? { signal: options.signal } : {}).catch(
      () => options.signal?.throwIfAborted(),
    );
  }
}
