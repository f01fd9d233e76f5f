/** One value as a source saw it, with a human-readable origin for error messages and the start-up dump. */
export interface SourcedValue {
  value: string;
  origin: string;
}

export type ConfigLayer = Record<string, SourcedValue>;

/**
 * A place configuration comes from. Sources are merged in the order they are given; a later source wins.
 * Remote sources (config centres) implement `watch` so a store can reload when they change.
 */
export interface ConfigSource {
  readonly name: string;
  load(): Promise<ConfigLayer>;
  /** Calls `onChange` whenever the source's content may have changed; returns a function that stops watching. */
  watch?(onChange: () => void): () => void;
  close?(): Promise<void>;
}

export function layerFromRecord(values: Record<string, string | undefined>, origin: string): ConfigLayer {
  const layer: ConfigLayer = {};
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) layer[key] = { value, origin };
  }
  return layer;
}
