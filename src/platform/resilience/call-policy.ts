import {
  BrokenCircuitError,
  BulkheadRejectedError,
  bulkhead,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  type IPolicy,
  IsolatedCircuitError,
  retry,
  TaskCancelledError,
  TimeoutStrategy,
  timeout,
  wrap,
} from 'cockatiel';
import type { Logger } from 'pino';
import type { Gauge, Registry } from 'prom-client';
import { gauge } from '../metrics/metrics-registry.ts';

export interface CallPolicySettings {
  /** Bound on the whole call, retries and bulkhead queueing included: the caller never waits longer. */
  timeoutMs: number;
  /** Bound on one attempt; a slow attempt is cancelled and, budget permitting, retried. */
  attemptTimeoutMs: number;
  /** Attempts after the first, for retryable failures only. */
  retries: number;
  retryInitialDelayMs: number;
  retryMaxDelayMs: number;
  /** Consecutive failed attempts that open the breaker. */
  breakerThreshold: number;
  /** How long the breaker stays open before letting one trial call through (half-open). */
  breakerHalfOpenAfterMs: number;
  /** Calls running at once; more wait in a queue of `bulkheadQueue`, and past that are rejected at once. */
  bulkheadLimit: number;
  bulkheadQueue: number;
}

export type BreakerStateName = 'closed' | 'half-open' | 'open';

/** The reserved metric: 0 closed, 1 half-open, 2 open. */
export const BREAKER_STATE_VALUE: Record<BreakerStateName, number> = { closed: 0, 'half-open': 1, open: 2 };

const breakerGauge = (registry: Registry) =>
  gauge(registry, 'circuit_breaker_state', 'Circuit breaker state: 0 closed, 1 half-open, 2 open.', [
    'breaker',
  ]);

function stateName(state: CircuitState): BreakerStateName {
  if (state === CircuitState.HalfOpen) return 'half-open';
  if (state === CircuitState.Open || state === CircuitState.Isolated) return 'open';
  return 'closed';
}

/** True for the policy's own refusals (breaker open, bulkhead full, budget spent): the dependency was not asked. */
export function isPolicyRejection(error: unknown): boolean {
  return (
    error instanceof BrokenCircuitError ||
    error instanceof IsolatedCircuitError ||
    error instanceof BulkheadRejectedError ||
    error instanceof TaskCancelledError
  );
}

export interface CallPolicyOptions {
  /** Names the breaker in logs and in `circuit_breaker_state{breaker}`. */
  name: string;
  logger: Logger;
  /** The service's registry, where `circuit_breaker_state` is reported. */
  metrics: Registry;
  /** Failures worth another attempt (connection refused, 502/503/504, 429); attempt timeouts always are. */
  isRetryable: (error: Error) => boolean;
  /** Failures that count against the breaker; a 400 caused by our own request, for instance, does not. */
  isFailure?: (error: Error) => boolean;
}

/**
 * One composed cockatiel policy for calls to a third party, outermost first: total timeout, bulkhead, retry with
 * jittered exponential backoff (retryable failures only), circuit breaker, attempt timeout. The breaker sits
 * inside the retry so each failed attempt counts and an open breaker stops the retries at once. Settings can be
 * replaced at run time; that builds a new policy (its breaker starts closed) for the calls that follow.
 */
export class CallPolicy {
  readonly #options: CallPolicyOptions;
  readonly #breakerGauge: Gauge<'breaker'>;
  #policy!: IPolicy;
  #breakerState: BreakerStateName = 'closed';
  #disposers: { dispose(): void }[] = [];
  #settings!: CallPolicySettings;

  constructor(settings: CallPolicySettings, options: CallPolicyOptions) {
    this.#options = options;
    this.#breakerGauge = breakerGauge(options.metrics);
    this.update(settings);
  }

  get breakerState(): BreakerStateName {
    return this.#breakerState;
  }

  get settings(): CallPolicySettings {
    return this.#settings;
  }

  update(settings: CallPolicySettings): void {
    for (const disposer of this.#disposers.splice(0)) disposer.dispose();
    const { logger, name, isRetryable } = this.#options;
    const isFailure = this.#options.isFailure ?? (() => true);
    const breaker = circuitBreaker(
      handleWhen((error) => error instanceof TaskCancelledError || isFailure(error)),
      {
        halfOpenAfter: settings.breakerHalfOpenAfterMs,
        breaker: new ConsecutiveBreaker(settings.breakerThreshold),
      },
    );
    this.#disposers.push(
      breaker.onStateChange((state) => {
        const next = stateName(state);
        if (next === this.#breakerState) return;
        const previous = this.#breakerState;
        this.#breakerState = next;
        this.#breakerGauge.set({ breaker: name }, BREAKER_STATE_VALUE[next]);
        const fields = { breaker: name, from: previous, to: next };
        if (next === 'open') logger.warn(fields, `circuit breaker ${name} opened: calls fail fast`);
        else
          logger.info(
            fields,
            `circuit breaker ${name} ${next === 'closed' ? 'closed' : 'half-open: trying one call'}`,
          );
      }),
    );
    const retries = retry(
      handleWhen(
        (error) =>
          !(error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) &&
          (error instanceof TaskCancelledError || isRetryable(error)),
      ),
      {
        maxAttempts: settings.retries,
        backoff: new ExponentialBackoff({
          initialDelay: settings.retryInitialDelayMs,
          maxDelay: settings.retryMaxDelayMs,
        }),
      },
    );
    this.#policy = wrap(
      timeout(settings.timeoutMs, TimeoutStrategy.Aggressive),
      bulkhead(settings.bulkheadLimit, settings.bulkheadQueue),
      retries,
      breaker,
      timeout(settings.attemptTimeoutMs, TimeoutStrategy.Aggressive),
    );
    this.#settings = settings;
    if (this.#breakerState !== 'closed') {
      logger.info(
        { breaker: name, from: this.#breakerState, to: 'closed' },
        `circuit breaker ${name} reset by new settings`,
      );
    }
    this.#breakerState = 'closed';
    this.#breakerGauge.set({ breaker: name }, 0);
  }

  /** Runs `call` under the policy; `signal` aborts when its attempt (or the whole budget) times out. */
  execute<T>(call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.#policy.execute(({ signal }) => call(signal)) as Promise<T>;
  }
}
