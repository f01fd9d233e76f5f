import { Type } from 'typebox';

export const REQUEST_LOG_POLICIES = ['all', 'sampled', 'none'] as const;
export type RequestLogPolicy = (typeof REQUEST_LOG_POLICIES)[number];

/** Keys of a service whose per-request log lines follow a policy; both reloadable, read per request. */
export const requestLogConfigProperties = {
  REQUEST_LOG: Type.Enum(REQUEST_LOG_POLICIES, {
    default: 'sampled',
    reloadable: true,
    description:
      'Which answered requests get their `request completed` line: `all`; `sampled` (those of sampled traces and a REQUEST_LOG_SAMPLE_RATIO share of the rest); `none` (the mesh or ingress access log serves). Whatever the policy, requests answered with status >= 400, slow requests (WARN, `slow: true`), failed sends and business events keep their lines. `sampled` by default: writing a line for every request is a fifth of the CPU a request costs. Reloadable.',
  }),
  REQUEST_LOG_SAMPLE_RATIO: Type.Number({
    minimum: 0,
    maximum: 1,
    default: 0.01,
    reloadable: true,
    description:
      'With REQUEST_LOG=sampled: share of the successful, not slow requests of unsampled traces that still get their line (0..1). Reloadable.',
  }),
};

export interface RequestLogSettings {
  REQUEST_LOG: RequestLogPolicy;
  REQUEST_LOG_SAMPLE_RATIO: number;
}

/** Every request has its line: the platform's behaviour when a service does not choose a policy. */
export const LOG_EVERY_REQUEST: RequestLogSettings = { REQUEST_LOG: 'all', REQUEST_LOG_SAMPLE_RATIO: 1 };

/**
 * Whether an ordinary request (answered below 400, not slow, sent in full) gets its line. Under `sampled` the
 * requests of sampled traces always do, so a trace found in the collector has its access line next to it.
 */
export function logsOrdinaryRequest(
  settings: RequestLogSettings,
  traceSampled: boolean,
  draw: () => number = Math.random,
): boolean {
  switch (settings.REQUEST_LOG) {
    case 'all':
      return true;
    case 'none':
      return false;
    default:
      return traceSampled || draw() < settings.REQUEST_LOG_SAMPLE_RATIO;
  }
}
