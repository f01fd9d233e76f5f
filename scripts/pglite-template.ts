import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { brotliCompress, constants } from 'node:zlib';
import { PGlite } from '@electric-sql/pglite';
import {
  installedPGliteVersion,
  TEMPLATE_DIRECTORY,
  templateFile,
} from '../src/platform/database/pglite-template.ts';

/**
 * Writes the initial PGlite data directory image for the installed PGlite version (and removes images of other
 * versions): run after upgrading @electric-sql/pglite. The three databases initdb makes are near copies of each
 * other, so a 16 MiB window lets brotli store the 40 MB directory in about 1.4 MB.
 */
const version = await installedPGliteVersion();
const db = await PGlite.create();
const tar = new Uint8Array(await (await db.dumpDataDir('none')).arrayBuffer());
await db.close();
const image = await promisify(brotliCompress)(tar, {
  params: {
    [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
    [constants.BROTLI_PARAM_LGWIN]: 24,
    [constants.BROTLI_PARAM_SIZE_HINT]: tar.byteLength,
  },
});
await mkdir(TEMPLATE_DIRECTORY, { recursive: true });
for (const name of await readdir(TEMPLATE_DIRECTORY))
  if (name.endsWith('.tar.br')) await rm(new URL(name, TEMPLATE_DIRECTORY));
await writeFile(templateFile(version), image);
console.log(
  `PGlite ${version}: ${templateFile(version).pathname} (${(image.byteLength / 1e6).toFixed(2)} MB)`,
);
