import { setTimeout as sleep } from 'node:timers/promises';

export interface Readiness {
  /** From `startedAt` to the first answer of /readyz, whatever its status: the server listens. */
  listenMs: number;
  /** From `startedAt` to the first 200 from /readyz. */
  readyMs: number;
}

/**
 * Polls `${baseUrl}/readyz` until it answers 200, every `intervalMs` (each attempt bounded to a second), and gives
 * both moments. Undefined when `exited()` turns true or `timeoutMs` has passed since `startedAt` first.
 */
export async function awaitReadyz(
  baseUrl: string,
  options: { startedAt: number; exited: () => boolean; timeoutMs?: number; intervalMs?: number },
): Promise<Readiness | undefined> {
  const deadline = options.startedAt + (options.timeoutMs ?? 60_000);
  let listenMs: number | undefined;
  while (performance.now() < deadline && !options.exited()) {
    try {
      const response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      const now = performance.now() - options.startedAt;
      listenMs ??= now;
      if (response.status === 200) return { listenMs, readyMs: now };
    } catch {
      // not listening yet
    }
    await sleep(options.intervalMs ?? 5);
  }
  return undefined;
}
