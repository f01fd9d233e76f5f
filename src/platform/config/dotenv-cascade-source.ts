import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { type ConfigLayer, type ConfigSource, layerFromRecord } from './config-source.ts';

/** The files read, lowest precedence first: `.env`, `.env.local`, `.env.$NODE_ENV`, `.env.$NODE_ENV.local`. */
export function dotenvCascadeFiles(nodeEnv: string | undefined): string[] {
  const files = ['.env', '.env.local'];
  if (nodeEnv) files.push(`.env.${nodeEnv}`, `.env.${nodeEnv}.local`);
  return files;
}

/** Reads one file; `undefined` when it does not exist. */
export type OptionalFileReader = (path: string) => Promise<string | undefined>;

export function dotenvCascadeSource(options: {
  directory: string;
  nodeEnv: string | undefined;
  readFile?: OptionalFileReader;
}): ConfigSource {
  const read = options.readFile ?? readOptional;
  return {
    name: 'dotenv',
    async load() {
      const merged: ConfigLayer = {};
      for (const file of dotenvCascadeFiles(options.nodeEnv)) {
        const text = await read(join(options.directory, file));
        if (text === undefined) continue;
        Object.assign(merged, layerFromRecord(parseEnv(text), file));
      }
      return merged;
    },
  };
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
