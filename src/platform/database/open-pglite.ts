import { mkdir } from 'node:fs/promises';
import type { PGlite } from '@electric-sql/pglite';
import { initialDataDir } from './pglite-template.ts';

/**
 * Opens the embedded database in `location` (a directory, created when missing; undefined: in memory). A new
 * database starts from the packaged initdb image when one matches the installed PGlite.
 */
export async function openPGliteAt(location: string | undefined): Promise<PGlite> {
  if (location !== undefined) await mkdir(location, { recursive: true });
  const loadDataDir = await initialDataDir(location);
  // Imported here, not at the top: the bundle inlines this module, and a static import of the package would make
  // every image load it, though images without the embedded database do not ship it.
  const { PGlite } = await import('@electric-sql/pglite');
  return PGlite.create({
    ...(location === undefined ? {} : { dataDir: location }),
    ...(loadDataDir ? { loadDataDir } : {}),
  });
}
