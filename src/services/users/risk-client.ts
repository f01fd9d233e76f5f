import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Type } from 'typebox';
import { HttpCallError, requestJson } from '../../platform/http/json-http.ts';
import { CallPolicy, type CallPolicySettings } from '../../platform/resilience/call-policy.ts';

export type RiskDecision = 'allow' | 'deny' | 'review';

export const riskConfigProperties = {
  RISK_SERVICE_URL: Type.Optional(
    Type.String({
      pattern: '^https?://',
      description:
        'Risk-check endpoint called with POST {name, email} when a user is created; unset turns the check off. Restart-only.',
    }),
  ),
  RISK_SERVICE_TOKEN: Type.Optional(
    Type.String({
      secret: true,
      description: 'Bearer token for the risk service (or RISK_SERVICE_TOKEN_FILE).',
    }),
  ),
  RISK_TIMEOUT_MS: Type.Integer({
    minimum: 10,
    default: 1_000,
    reloadable: true,
    description:
      'Bound on the whole risk check, retries included; past it the user is created as pending_review. Reloadable.',
  }),
  RISK_ATTEMPT_TIMEOUT_MS: Type.Integer({
    minimum: 10,
    default: 400,
    reloadable: true,
    description: 'Bound on one attempt of the risk check. Reloadable.',
  }),
  RISK_RETRIES: Type.Integer({
    minimum: 0,
    maximum: 5,
    default: 2,
    reloadable: true,
    description:
      'Retries after a retryable failure (connection error, 429, 502, 503, 504, attempt timeout). Reloadable.',
  }),
  RISK_RETRY_INITIAL_DELAY_MS: Type.Integer({
    minimum: 1,
    default: 50,
    reloadable: true,
    description: 'First retry delay; grows exponentially with decorrelated jitter. Reloadable.',
  }),
  RISK_RETRY_MAX_DELAY_MS: Type.Integer({
    minimum: 1,
    default: 300,
    reloadable: true,
    description: 'Largest retry delay. Reloadable.',
  }),
  RISK_BREAKER_THRESHOLD: Type.Integer({
    minimum: 1,
    default: 5,
    reloadable: true,
    description: 'Consecutive failed attempts that open the risk-service circuit breaker. Reloadable.',
  }),
  RISK_BREAKER_HALF_OPEN_AFTER_MS: Type.Integer({
    minimum: 100,
    default: 10_000,
    reloadable: true,
    description: 'How long the breaker stays open before one trial call (half-open). Reloadable.',
  }),
  RISK_BULKHEAD_LIMIT: Type.Integer({
    minimum: 1,
    default: 20,
    reloadable: true,
    description: 'Risk checks running at once. Reloadable.',
  }),
  RISK_BULKHEAD_QUEUE: Type.Integer({
    minimum: 0,
    default: 20,
    reloadable: true,
    description: 'Risk checks waiting for a slot; more are degraded at once. Reloadable.',
  }),
};

/** The reloadable keys that shape the call policy; a change to any of them rebuilds it. */
export const RISK_POLICY_KEYS = [
  'RISK_TIMEOUT_MS',
  'RISK_ATTEMPT_TIMEOUT_MS',
  'RISK_RETRIES',
  'RISK_RETRY_INITIAL_DELAY_MS',
  'RISK_RETRY_MAX_DELAY_MS',
  'RISK_BREAKER_THRESHOLD',
  'RISK_BREAKER_HALF_OPEN_AFTER_MS',
  'RISK_BULKHEAD_LIMIT',
  'RISK_BULKHEAD_QUEUE',
] as const;

export type RiskPolicyConfig = Record<(typeof RISK_POLICY_KEYS)[number], number>;

export function riskPolicySettings(config: RiskPolicyConfig): CallPolicySettings {
  return {
    timeoutMs: config.RISK_TIMEOUT_MS,
    attemptTimeoutMs: Math.min(config.RISK_ATTEMPT_TIMEOUT_MS, config.RISK_TIMEOUT_MS),
    retries: config.RISK_RETRIES,
    retryInitialDelayMs: config.RISK_RETRY_INITIAL_DELAY_MS,
    retryMaxDelayMs: config.RISK_RETRY_MAX_DELAY_MS,
    breakerThreshold: config.RISK_BREAKER_THRESHOLD,
    breakerHalfOpenAfterMs: config.RISK_BREAKER_HALF_OPEN_AFTER_MS,
    bulkheadLimit: config.RISK_BULKHEAD_LIMIT,
    bulkheadQueue: config.RISK_BULKHEAD_QUEUE,
  };
}

/** A failed call to the risk service; `retryable` says whether another attempt may succeed. */
export class RiskCallError extends HttpCallError {
  override readonly name = 'RiskCallError';
}

const DECISIONS = new Set<string>(['allow', 'deny', 'review']);

export interface RiskClientOptions {
  url: string;
  token?: string | undefined;
  logger: Logger;
  /** The service's registry, where the breaker's state is reported. */
  metrics: Registry;
  settings: CallPolicySettings;
}

/** The risk-check client: one HTTP call under the composed policy (timeout, bulkhead, retry, breaker). */
export class RiskClient {
  readonly policy: CallPolicy;
  readonly #url: string;
  readonly #token: string | undefined;

  constructor(options: RiskClientOptions) {
    this.#url = options.url;
    this.#token = options.token;
    this.policy = new CallPolicy(options.settings, {
      name: 'risk-service',
      logger: options.logger,
      metrics: options.metrics,
      isRetryable: (error) => error instanceof RiskCallError && error.retryable,
      // A 4xx other than 408/429 is our request's fault, not the service failing: it must not open the breaker.
      isFailure: (error) =>
        !(error instanceof RiskCallError) ||
        error.retryable ||
        error.status === undefined ||
        error.status >= 500,
    });
  }

  check(candidate: { name: string; email: string }): Promise<{ decision: RiskDecision; reason?: string }> {
    return this.policy.execute((signal) => this.#call(candidate, signal));
  }

  async #call(
    candidate: { name: string; email: string },
    signal: AbortSignal,
  ): Promise<{ decision: RiskDecision; reason?: string }> {
    const headers: Record<string, string> = {};
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    const answer = await requestJson<{ decision?: unknown; reason?: unknown } | undefined>(this.#url, {
      service: 'risk service',
      method: 'POST',
      headers,
      json: { name: candidate.name, email: candidate.email },
      signal,
      errorClass: RiskCallError,
    });
    const body = answer.body ?? {};
    if (typeof body.decision !== 'string' || !DECISIONS.has(body.decision)) {
      throw new RiskCallError(`risk service sent an unknown decision ${JSON.stringify(body.decision)}`, {
        retryable: false,
        status: 500,
      });
    }
    const result: { decision: RiskDecision; reason?: string } = { decision: body.decision as RiskDecision };
    if (typeof body.reason === 'string') result.reason = body.reason;
    return result;
  }
}
