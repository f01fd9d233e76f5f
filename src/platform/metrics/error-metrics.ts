import type { ErrorKind } from '../errors/app-error.ts';
import { sharedCounter } from '../resilience/prom-metric.ts';

const KINDS: readonly ErrorKind[] = ['business', 'system', 'dependency'];

/** `app_errors_total{kind}`, fed by the central problem handler; every kind starts at 0 so rate() works at once. */
export function errorCounter(): (kind: ErrorKind) => void {
  const counter = sharedCounter('app_errors_total', 'Errors answered as problem documents, by kind.', [
    'kind',
  ]);
  for (const kind of KINDS) counter.inc({ kind }, 0);
  return (kind) => counter.inc({ kind });
}
