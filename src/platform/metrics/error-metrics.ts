import type { Registry } from 'prom-client';
import type { ErrorKind } from '../errors/app-error.ts';
import { counter } from './metrics-registry.ts';

const KINDS: readonly ErrorKind[] = ['business', 'system', 'dependency'];

/** `app_errors_total{kind}`, fed by the central problem handler; every kind starts at 0 so rate() works at once. */
export function errorCounter(registry: Registry): (kind: ErrorKind) => void {
  const errors = counter(registry, 'app_errors_total', 'Errors answered as problem documents, by kind.', [
    'kind',
  ]);
  for (const kind of KINDS) errors.inc({ kind }, 0);
  return (kind) => errors.inc({ kind });
}
