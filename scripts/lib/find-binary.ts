import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The executable `name` on PATH (as a shell would run it), or undefined when none is installed. */
export function findBinary(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}
