import { mkdir, rename, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A directory the way the kubelet keeps a ConfigMap, Secret or downward-API volume: one file per key, each a
 * symlink through `..data`, which is swapped atomically to a new timestamped directory on every update.
 */
export class KubeletVolume {
  readonly directory: string;
  #generation = 0;
  #files: Record<string, string> = {};

  constructor(directory: string) {
    this.directory = directory;
  }

  /** Publishes the current files with `patch` applied, as one new generation. */
  async update(patch: Record<string, string>): Promise<void> {
    this.#files = { ...this.#files, ...patch };
    this.#generation += 1;
    const name = `..gen_${this.#generation}`;
    await mkdir(join(this.directory, name), { recursive: true });
    for (const [key, value] of Object.entries(this.#files))
      await writeFile(join(this.directory, name, key), value);
    await symlink(name, join(this.directory, '..data_tmp'));
    await rename(join(this.directory, '..data_tmp'), join(this.directory, '..data'));
    for (const key of Object.keys(this.#files)) {
      await unlink(join(this.directory, key)).catch(() => {});
      await symlink(join('..data', key), join(this.directory, key));
    }
  }
}
