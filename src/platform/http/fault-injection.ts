import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { SystemError } from '../errors/app-error.ts';
import { isWarmUpRequest } from './warm-up.ts';

/** Keys of a service that offers fault injection; all reloadable, all off by default. */
export const faultInjectionConfigProperties = {
  FAULT_SLOW_RATIO: Type.Number({
    minimum: 0,
    maximum: 1,
    default: 0,
    reloadable: true,
    description:
      'Fault injection for tests: this fraction of API requests is delayed by FAULT_SLOW_MS. Off (0) by default; a WARN at start when on. Reloadable.',
  }),
  FAULT_SLOW_MS: Type.Integer({
    minimum: 0,
    default: 1_000,
    reloadable: true,
    description: 'Fault injection: delay added to a request picked by FAULT_SLOW_RATIO. Reloadable.',
  }),
  FAULT_ERROR_RATIO: Type.Number({
    minimum: 0,
    maximum: 1,
    default: 0,
    reloadable: true,
    description:
      'Fault injection for tests: this fraction of API requests fails with a 500 problem (counted as a system error). Off (0) by default. Reloadable.',
  }),
};

export interface FaultSettings {
  FAULT_SLOW_RATIO: number;
  FAULT_SLOW_MS: number;
  FAULT_ERROR_RATIO: number;
}

export const faultsOn = (settings: FaultSettings) =>
  settings.FAULT_SLOW_RATIO > 0 || settings.FAULT_ERROR_RATIO > 0;

/**
 * A switch for tests of the monitoring: a set fraction of API requests is delayed, another fails with a 500 that
 * the problem handler counts as a system error. Probes and /metrics are exempt. Settings are read per request, so
 * a reload turns it on or off; when both ratios are 0 a request pays two comparisons.
 */
export function installFaultInjection(app: FastifyInstance, settings: () => FaultSettings): void {
  app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    const current = settings();
    if ((current.FAULT_SLOW_RATIO === 0 && current.FAULT_ERROR_RATIO === 0) || isExempt(request)) {
      done();
      return;
    }
    const slow = current.FAULT_SLOW_RATIO > 0 && Math.random() < current.FAULT_SLOW_RATIO;
    const fail = current.FAULT_ERROR_RATIO > 0 && Math.random() < current.FAULT_ERROR_RATIO;
    const error = fail ? injectedFailure() : undefined;
    if (!slow) {
      done(error);
      return;
    }
    delay(current.FAULT_SLOW_MS).then(() => done(error));
  });
}

/** Probes and the start-up warm-up are never faulted. */
const isExempt = (request: FastifyRequest) =>
  request.routeOptions.config?.probe === true || isWarmUpRequest(request.raw);

function injectedFailure(): SystemError {
  return new SystemError({
    status: 500,
    code: 'internal',
    title: 'Internal Server Error',
    detail: 'An unexpected error occurred; it has been logged. Quote the trace_id when reporting it.',
    cause: new Error('injected fault (FAULT_ERROR_RATIO)'),
  });
}
