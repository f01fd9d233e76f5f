// What both deploy commands share: the kubectl they call, argument checks and how a failure ends the process.
import { listOverlays } from '../../deploy/ci/kustomize.ts';

export const kubectl = process.env.KUBECTL ?? 'kubectl';

/** A bad command line: the process prints the usage and exits 2 instead of 1. */
export class UsageError extends Error {}

export async function environmentArgument(value: string | undefined): Promise<string> {
  const environments = await listOverlays();
  if (!value) throw new UsageError(`--env is required (one of ${environments.join(', ')})`);
  if (!environments.includes(value))
    throw new UsageError(
      `unknown environment "${value}": deploy/k8s/overlays has ${environments.join(', ')}`,
    );
  return value;
}

/** `90s`, `15m`, `1h` for kubectl's --timeout; milliseconds for polling. */
export function durationArgument(value: string): { kubectl: string; ms: number } {
  const match = /^(\d+)(s|m|h)$/.exec(value);
  if (!match) throw new UsageError(`--timeout "${value}" must look like 90s, 15m or 1h`);
  const ms = Number(match[1]) * { s: 1_000, m: 60_000, h: 3_600_000 }[match[2] as 's' | 'm' | 'h'];
  return { kubectl: value, ms };
}

/** Runs a command's body; a failure is one `name: message` line on stderr (plus the usage for a bad command line). */
export function runCommand(name: string, usage: string, body: Promise<void>): void {
  body.catch((error: Error) => {
    const isUsage =
      error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    console.error(`${name}: ${error.message}`);
    if (isUsage) console.error(usage);
    process.exitCode = isUsage ? 2 : 1;
  });
}
