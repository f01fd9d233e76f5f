import { Counter, Gauge, register } from 'prom-client';

/**
 * Metrics live in prom-client's default registry, which the metrics endpoint serves. Get-or-create, because
 * tests build several apps in one process and a second registration of the same name would throw.
 */
export function sharedCounter<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[],
): Counter<L> {
  const existing = register.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames });
}

export function sharedGauge<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[],
): Gauge<L> {
  const existing = register.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  return new Gauge({ name, help, labelNames });
}
