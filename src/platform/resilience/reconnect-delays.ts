import { ExponentialBackoff, halfJitterGenerator, type IBackoff } from 'cockatiel';

/**
 * The waits between attempts to reach a server that was lost (a config centre, Vault): cockatiel's exponential
 * backoff from `initialMs` up to `maxMs`, each wait drawn from the upper half of its step (half jitter), so the
 * replicas that lost the same server spread their reconnects out, yet none retries at once.
 */
export class ReconnectDelays {
  readonly #backoff: ExponentialBackoff<number>;
  #current: IBackoff<unknown> | undefined;

  constructor(initialMs: number, maxMs: number) {
    this.#backoff = new ExponentialBackoff({
      initialDelay: initialMs,
      maxDelay: maxMs,
      generator: halfJitterGenerator,
    });
  }

  /** The wait before the next attempt; each call is one more failed attempt. */
  next(): number {
    this.#current = (this.#current ?? this.#backoff).next(undefined);
    return this.#current.duration;
  }

  /** The server answered: the next outage starts from `initialMs` again. */
  reset(): void {
    this.#current = undefined;
  }
}
