import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readTar } from '../../src/platform/database/pglite-template.ts';

/** One ustar header block and its content, padded, as PGlite's dumpDataDir writes them. */
function entry(
  name: string,
  options: { type?: string; mode?: number; content?: string; size?: string } = {},
) {
  const content = new TextEncoder().encode(options.content ?? '');
  const header = new Uint8Array(512);
  const put = (offset: number, text: string) => header.set(new TextEncoder().encode(text), offset);
  put(0, name);
  put(100, `${(options.mode ?? 0o600).toString(8).padStart(7, '0')}\0`);
  put(124, options.size ?? `${content.byteLength.toString(8).padStart(11, '0')}\0`);
  put(156, options.type ?? '0');
  put(257, 'ustar\0');
  const padded = new Uint8Array(Math.ceil(content.byteLength / 512) * 512);
  padded.set(content);
  return [header, padded];
}

function archive(...entries: Uint8Array[][]): Uint8Array {
  const parts = [...entries.flat(), new Uint8Array(1024)];
  const tar = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    tar.set(part, offset);
    offset += part.byteLength;
  }
  return tar;
}

describe('the PGlite image archive reader', () => {
  it('yields directories and files with their modes, names relative to the data directory', () => {
    const { directories, files } = readTar(
      archive(
        entry('/base', { type: '5', mode: 0o750 }),
        entry('/base/1/PG_VERSION', { content: '17\n' }),
        entry('/PG_VERSION', { content: '17\n', mode: 0o640 }),
        entry('/global/pg_control', { content: 'x'.repeat(600) }),
      ),
    );
    assert.deepEqual(directories, [{ path: 'base', mode: 0o750 }]);
    assert.deepEqual(
      files.map((file) => [file.path, file.mode, new TextDecoder().decode(file.content)]),
      [
        ['base/1/PG_VERSION', 0o600, '17\n'],
        ['PG_VERSION', 0o640, '17\n'],
        ['global/pg_control', 0o600, 'x'.repeat(600)],
      ],
    );
  });

  it('refuses a name that leaves the data directory', () => {
    assert.throws(
      () => readTar(archive(entry('/base/../../etc/passwd', { content: 'root' }))),
      /leaves the directory/,
    );
  });

  it('refuses links and other entry types instead of guessing', () => {
    assert.throws(() => readTar(archive(entry('/pg_wal', { type: '2' }))), /type "2" is not a file/);
  });

  it('refuses a truncated archive, a size that is not octal and a missing end block', () => {
    const whole = archive(entry('/PG_VERSION', { content: 'x'.repeat(2000) }));
    assert.throws(() => readTar(whole.subarray(0, 1024)), /truncated/);
    assert.throws(() => readTar(archive(entry('/PG_VERSION', { size: '12z\0' }))), /not octal/);
    assert.throws(() => readTar(whole.subarray(0, 512 + 2048)), /without its end-of-archive block/);
  });
});
