import { watch } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfigLayer, ConfigSource } from './config-source.ts';

/** Entry names that are configuration keys; Kubernetes' own `..data`, `..2024_…` entries and dotfiles are not. */
const KEY_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * A directory with one file per key, as a Kubernetes ConfigMap or Secret volume mounts it: the file name is the
 * key, the content (minus one trailing newline) the value. Kubernetes updates such a volume atomically by writing
 * a new timestamped directory and renaming the `..data` symlink onto it; every key file is a symlink through
 * `..data`, so a load always reads one consistent generation. The swap is a rename in this directory, which the
 * directory watcher sees.
 */
export function filesDirectorySource(directory: string): ConfigSource {
  return {
    name: `files ${directory}`,
    async load() {
      const layer: ConfigLayer = {};
      let names: string[];
      try {
        names = await readdir(directory);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return layer;
        throw error;
      }
      for (const name of names.sort()) {
        if (!KEY_NAME.test(name)) continue;
        try {
          const content = await readFile(join(directory, name), 'utf8');
          layer[name] = { value: content.replace(/\r?\n$/, ''), origin: `${directory}/${name}` };
        } catch (error) {
          // A directory entry (or a link broken halfway through a swap) is not a value; the next event rereads.
          const code = (error as NodeJS.ErrnoException).code;
          if (code !== 'EISDIR' && code !== 'ENOENT') throw error;
        }
      }
      return layer;
    },
    watch(onChange) {
      let watcher: ReturnType<typeof watch> | undefined;
      try {
        watcher = watch(directory, { persistent: false }, () => onChange());
        watcher.on('error', () => watcher?.close());
      } catch {
        // Missing directory: the store's poll interval still picks it up once it appears.
      }
      return () => watcher?.close();
    },
  };
}
