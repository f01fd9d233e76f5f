import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { BusinessError } from '../../platform/errors/app-error.ts';
import { counter } from '../../platform/metrics/metrics-registry.ts';
import { isPolicyRejection } from '../../platform/resilience/call-policy.ts';
import type { RiskClient } from './risk-client.ts';
import type { AdmissionPolicy } from './users.service.ts';

const riskChecksCounter = (registry: Registry) =>
  counter(
    registry,
    'risk_checks_total',
    'Risk checks by outcome: allow, review, deny, or degraded (service failed or breaker open; user pending_review).',
    ['outcome'],
  );

/**
 * Admission through the risk service: allow -> active, review -> pending_review, deny -> 422. When the check
 * cannot be made (breaker open, timeout, errors after retries, bulkhead full) the registration still succeeds as
 * pending_review, with a WARN line: the degraded path, never a 500. No personal data reaches the log line.
 */
export function riskAdmission(client: RiskClient, logger: Logger, metrics: Registry): AdmissionPolicy {
  const riskChecks = riskChecksCounter(metrics);
  return async (candidate) => {
    let decision: string;
    try {
      ({ decision } = await client.check(candidate));
    } catch (error) {
      riskChecks.inc({ outcome: 'degraded' });
      logger.warn(
        {
          dependency: 'risk-service',
          breaker: client.policy.breakerState,
          reason: (error as Error).message,
          rejected_by_policy: isPolicyRejection(error),
        },
        'risk check unavailable; user created with status pending_review',
      );
      return 'pending_review';
    }
    riskChecks.inc({ outcome: decision });
    if (decision === 'deny') {
      throw new BusinessError({
        status: 422,
        code: 'registration-declined',
        title: 'Unprocessable Content',
        detail: 'The registration was declined by the risk check.',
      });
    }
    return decision === 'allow' ? 'active' : 'pending_review';
  };
}
