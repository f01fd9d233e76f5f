import { type ConfigSource, layerFromRecord } from './config-source.ts';

/** Real environment variables: the highest-precedence source. */
export function environmentSource(env: NodeJS.ProcessEnv = process.env): ConfigSource {
  return {
    name: 'environment',
    async load() {
      return layerFromRecord(env, 'environment');
    },
  };
}
