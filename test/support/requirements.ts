import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Decides whether a suite that needs a real server runs. On a laptop without the server the suite is skipped
 * with the reason; with CI=true a missing server is a failure, never a skip.
 */
export function requireServer(what: string, available: boolean, howTo: string): string | false {
  if (available) return false;
  const reason = `${what} is not available (${howTo})`;
  if (process.env.CI === 'true') throw new Error(`CI=true, so this suite must run, but ${reason}`);
  return reason;
}

export function findBinary(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

export const postgresSkip = () =>
  requireServer(
    'PostgreSQL',
    TEST_DATABASE_URL !== undefined,
    'run `eval "$(scripts/servers/postgres.sh start)"` to set TEST_DATABASE_URL',
  );
