import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { brotliDecompress } from 'node:zlib';

const decompress = promisify(brotliDecompress);

/**
 * PGlite runs initdb (in WebAssembly, with a second throw-away instance) to create a new data directory: 3 to 6 s.
 * A new directory starts instead from an image of that initdb's output, made by the same PGlite version
 * (`node scripts/pglite-template.ts`). The image holds no schema: migrations run as usual. The bundle finds it
 * beside itself (dist/<service>/pglite-template/), the sources beside this module.
 */
export const TEMPLATE_DIRECTORY = new URL('./pglite-template/', import.meta.url);

/** The file initdb writes last and PostgreSQL reads first: its presence means "a database lives here". */
const VERSION_FILE = 'PG_VERSION';

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

/** The image as the tar archive PGlite's `dumpDataDir` wrote, or undefined when none matches the installed PGlite. */
export async function readTemplate(): Promise<Uint8Array | undefined> {
  const file = templateFile(await installedPGliteVersion());
  if (!(await exists(file))) return undefined;
  // Output in 1 MiB pieces: with the default 16 KiB the 40 MB come back in 2 500 callbacks, twice the time.
  return new Uint8Array(await decompress(await readFile(file), { chunkSize: 1 << 20 }));
}

export async function holdsDatabase(directory: string): Promise<boolean> {
  return exists(join(directory, VERSION_FILE));
}

/**
 * Writes the image's files into `directory`, as PGlite's own `loadDataDir` would, but straight to disk: PGlite
 * copies each file through its emulated file system (about 1 s here, against 0.1 to 0.2 s). The writes are
 * synchronous on purpose: nothing is served yet, and a thousand small files through the thread pool measured
 * two to five times slower. PG_VERSION is written last, so a start interrupted midway finds no database and
 * unpacks again over the partial files.
 */
export function unpackTemplate(tar: Uint8Array, directory: string): void {
  const { directories, files } = readTar(tar);
  // PostgreSQL refuses a data directory others can read: each directory gets its mode from the image.
  for (const entry of directories) {
    mkdirSync(join(directory, entry.path), { recursive: true });
    chmodSync(join(directory, entry.path), entry.mode);
  }
  const versionFile = files.find((file) => file.path === VERSION_FILE);
  if (!versionFile) throw new Error(`the PGlite image has no ${VERSION_FILE}: regenerate it`);
  for (const file of [...files.filter((other) => other !== versionFile), versionFile])
    writeFileSync(join(directory, file.path), file.content, { mode: file.mode });
}

interface TarFile {
  /** Relative to the data directory, without a leading slash. */
  path: string;
  mode: number;
  content: Uint8Array;
}

interface TarDirectory {
  path: string;
  mode: number;
}

/**
 * The directories and regular files of a ustar archive, in archive order. Written for the archives PGlite's
 * `dumpDataDir` makes: short names, regular files and directories only; anything else is refused rather than
 * guessed at, and no name may leave the directory it is unpacked into.
 */
export function readTar(tar: Uint8Array): { directories: TarDirectory[]; files: TarFile[] } {
  const directories: TarDirectory[] = [];
  const files: TarFile[] = [];
  const text = new TextDecoder();
  const field = (header: Uint8Array, offset: number, length: number) =>
    text.decode(header.subarray(offset, offset + length)).replace(/\0.*$/s, '');
  const octal = (header: Uint8Array, offset: number, length: number, what: string, name: string) => {
    const value = field(header, offset, length).trim();
    if (!/^[0-7]*$/.test(value)) throw new Error(`tar entry ${name}: ${what} "${value}" is not octal`);
    return value === '' ? 0 : Number.parseInt(value, 8);
  };
  let offset = 0;
  while (offset + 512 <= tar.byteLength) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) return { directories, files };
    const name = `${field(header, 345, 155)}${field(header, 0, 100)}`;
    const size = octal(header, 124, 12, 'size', name);
    const mode = octal(header, 100, 8, 'mode', name) & 0o777;
    const type = String.fromCharCode(header[156] || 0x30);
    const path = normalize(name.replace(/^\/+/, '') || '.');
    if (path === '..' || path.startsWith('../'))
      throw new Error(`tar entry ${name}: leaves the directory it is unpacked into`);
    const end = offset + 512 + size;
    if (end > tar.byteLength) throw new Error(`tar entry ${name}: truncated (${size} bytes announced)`);
    if (type === '0') files.push({ path, mode, content: tar.subarray(offset + 512, end) });
    else if (type === '5') directories.push({ path, mode });
    else throw new Error(`tar entry ${name}: type "${type}" is not a file or a directory`);
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error('tar archive ends without its end-of-archive block');
}

async function exists(path: string | URL): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
