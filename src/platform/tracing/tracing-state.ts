/**
 * Whether the tracing SDK runs in this process. Modules that would pay for tracing on every call (the SQL span
 * wrapper) check it once at set-up, so with tracing off they add nothing; this module loads no tracing code.
 */
let started = false;

export function markTracingStarted(): void {
  started = true;
}

export function tracingStarted(): boolean {
  return started;
}
