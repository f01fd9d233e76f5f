import { mkdir } from 'node:fs/promises';
import type { PGlite } from '@electric-sql/pglite';
import { holdsDatabase, readTemplate, unpackTemplate } from './pglite-template.ts';

/**
 * Opens the embedded database in `location` (a directory, created when missing; undefined: in memory). A new
 * database starts from the packaged initdb image when one matches the installed PGlite.
 */
export async function openPGliteAt(location: string | undefined): Promise<PGlite> {
  // Imported here, not at the top: the bundle inlines this module, and a static import of the package would make
  // every image load it, though images without the embedded database do not ship it. It loads while the image
  // decompresses on the thread pool.
  const [{ PGlite }, initialDataDir] = await Promise.all([
    import('@electric-sql/pglite'),
    prepareDataDir(location),
  ]);
  return PGlite.create({
    ...(location === undefined ? {} : { dataDir: location }),
    ...(initialDataDir ? { loadDataDir: initialDataDir } : {}),
  });
}

/** On disk the image is unpacked here; in memory PGlite loads it (the archive, returned). */
async function prepareDataDir(location: string | undefined): Promise<Blob | undefined> {
  if (location === undefined) {
    const tar = await readTemplate();
    return tar && new Blob([tar]);
  }
  await mkdir(location, { recursive: true });
  if (await holdsDatabase(location)) return undefined;
  const tar = await readTemplate();
  if (tar) unpackTemplate(tar, location);
  return undefined;
}
