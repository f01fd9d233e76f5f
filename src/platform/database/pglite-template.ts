import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { brotliDecompress } from 'node:zlib';

const decompress = promisify(brotliDecompress);

/**
 * PGlite runs initdb (in WebAssembly, with a second throw-away instance) to create a new data directory: 3 to 6 s.
 * A new directory starts instead from an image of that initdb's output, made by the same PGlite version
 * (`node scripts/pglite-template.ts`), which unpacks in about 0.2 s. The image holds no schema: migrations run as
 * usual. The bundle finds it beside itself (dist/<service>/pglite-template/), the sources beside this module.
 */
export const TEMPLATE_DIRECTORY = new URL('./pglite-template/', import.meta.url);

export function templateFile(version: string): URL {
  return new URL(`pglite-${version}.tar.br`, TEMPLATE_DIRECTORY);
}

/** The installed PGlite's version: an image is only valid for the version that made it. */
export async function installedPGliteVersion(): Promise<string> {
  const entry = import.meta.resolve('@electric-sql/pglite');
  const manifest = JSON.parse(await readFile(new URL('../package.json', entry), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

/**
 * The initial data directory for `location` (undefined: in memory) as a tar archive PGlite loads (`loadDataDir`), or undefined when the
 * directory holds a database already, or no image matches the installed PGlite (PGlite then runs initdb itself).
 */
export async function initialDataDir(location: string | undefined): Promise<Blob | undefined> {
  if (location !== undefined && (await exists(join(location, 'PG_VERSION')))) return undefined;
  const file = templateFile(await installedPGliteVersion());
  if (!(await exists(file))) return undefined;
  return new Blob([await decompress(await readFile(file))]);
}

async function exists(path: string | URL): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
