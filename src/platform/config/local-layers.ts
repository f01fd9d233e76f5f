import { type TObject, Type } from 'typebox';
import type { ConfigLayer, ConfigSource } from './config-source.ts';
import { dotenvCascadeSource, type OptionalFileReader } from './dotenv-cascade-source.ts';
import { environmentSource } from './environment-source.ts';
import { filesDirectorySource } from './files-directory-source.ts';
import { liveConfigProperties } from './live-config-schema.ts';
import { decodeConfig, type LoadedConfig, mergeLayers, resolveFileReferences } from './load-config.ts';

/** One local source with the layer it gave at start. */
interface ReadLayer {
  source: ConfigSource;
  layer: ConfigLayer;
}

/**
 * The local layers, lowest precedence first: the .env cascade, CONFIG_DIR when set, the environment. Read once at
 * start; every start-up decision (the start-up keys, which sources exist) and the first full load use these
 * layers instead of reading the files again.
 */
export interface LocalLayers {
  readonly below: readonly ReadLayer[];
  readonly environment: ReadLayer;
}

export interface LocalLayersOptions {
  directory: string;
  env?: NodeJS.ProcessEnv;
  /** Reads the .env files (tests count the reads). */
  readFile?: OptionalFileReader;
}

const configDirSchema = Type.Object({ CONFIG_DIR: liveConfigProperties.CONFIG_DIR });

export async function readLocalLayers(options: LocalLayersOptions): Promise<LocalLayers> {
  const env = options.env ?? process.env;
  const dotenv = dotenvCascadeSource({
    directory: options.directory,
    nodeEnv: env.NODE_ENV,
    ...(options.readFile ? { readFile: options.readFile } : {}),
  });
  const environment = environmentSource(env);
  const read = async (source: ConfigSource): Promise<ReadLayer> => ({ source, layer: await source.load() });
  const below = [await read(dotenv)];
  const local: LocalLayers = { below, environment: await read(environment) };
  // CONFIG_DIR itself comes from the .env files or the environment, never from the directory it names.
  const { CONFIG_DIR } = (await decodeLocal(configDirSchema, local)).values;
  if (CONFIG_DIR !== undefined) below.push(await read(filesDirectorySource(CONFIG_DIR)));
  return local;
}

/** Decodes `schema` from the local layers as read at start (`NAME_FILE` secrets are resolved, nothing re-read). */
export async function decodeLocal<S extends TObject>(
  schema: S,
  local: LocalLayers,
): Promise<LoadedConfig<S>> {
  const keys = new Set(Object.keys(schema.properties));
  const layers: ConfigLayer[] = [];
  for (const { layer } of [...local.below, local.environment]) {
    layers.push(await resolveFileReferences(layer, keys));
  }
  return decodeConfig(schema, mergeLayers(layers));
}

/** The sources behind the local layers, for the live store: each answers its first load with the layer read at start. */
export function localSources(local: LocalLayers): { below: ConfigSource[]; environment: ConfigSource } {
  return { below: local.below.map(startedWith), environment: startedWith(local.environment) };
}

function startedWith({ source, layer }: ReadLayer): ConfigSource {
  let first: ConfigLayer | undefined = layer;
  const started: ConfigSource = {
    name: source.name,
    async load() {
      if (first === undefined) return source.load();
      const layerAtStart = first;
      first = undefined;
      return layerAtStart;
    },
  };
  if (source.watch) started.watch = source.watch.bind(source);
  if (source.close) started.close = source.close.bind(source);
  return started;
}
