import { type FSWatcher, watch } from 'node:fs';
import { dirname } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { Counter, Gauge, Registry } from 'prom-client';
import type { Static, TObject } from 'typebox';
import { counter, gauge } from '../metrics/metrics-registry.ts';
import { ConfigError } from './config-error.ts';
import type { ConfigSource } from './config-source.ts';
import { redactConfig } from './describe-config.ts';
import { decodeConfig, loadLayers } from './load-config.ts';

export type ConfigListener<V> = (values: V, changedKeys: string[]) => void;

export type ReloadOutcome =
  | { status: 'unchanged' }
  | { status: 'applied'; changed: string[]; restartRequired: string[] }
  | { status: 'restart-required'; restartRequired: string[] }
  | { status: 'rejected'; reason: string };

export interface ConfigStoreOptions {
  logger: Logger;
  /** Where `config_reload_failures_total` and `config_last_reload_success` are registered. */
  metrics: Registry;
  /** Safety net for file systems whose change events are lost (network volumes, some container runtimes). */
  pollIntervalMs?: number;
  /** Coalesces bursts of change events (a ConfigMap swap touches several entries) into one reload. */
  debounceMs?: number;
}

const reloadFailures = (registry: Registry) =>
  counter(
    registry,
    'config_reload_failures_total',
    'Configuration reloads rejected (invalid values or an unreadable source); the last good configuration stays.',
    ['reason'],
  );
const lastReloadSuccess = (registry: Registry) =>
  gauge(
    registry,
    'config_last_reload_success',
    '1 when the latest configuration reload was applied or unchanged, 0 while the sources hold a rejected one.',
    [],
  );

/** Keys whose schema says `reloadable: true`; every other key keeps its start-up value until a restart. */
export function reloadableKeys(schema: TObject): Set<string> {
  return new Set(
    Object.entries(schema.properties)
      .filter(([, property]) => (property as { reloadable?: boolean }).reloadable === true)
      .map(([key]) => key),
  );
}

/**
 * The live configuration. It loads every source in order (later wins), decodes the whole result against the
 * schema and, on reload, applies it all-or-nothing: an invalid result is rejected whole (the last good values
 * stay, an ERROR line and a counter say why); changed restart-only keys log "restart required" and keep their
 * values; changed reloadable keys are applied and their subscribers called.
 */
export class ConfigStore<S extends TObject> {
  readonly #schema: S;
  readonly #sources: ConfigSource[];
  readonly #options: ConfigStoreOptions;
  readonly #reloadFailures: Counter<'reason'>;
  readonly #lastReloadSuccess: Gauge;
  readonly #reloadable: Set<string>;
  readonly #listeners = new Set<{ keys: Set<string>; listener: ConfigListener<Static<S>> }>();
  readonly #stopWatching: (() => void)[] = [];
  readonly #fileWatchers = new Map<string, FSWatcher>();
  #values: Static<S>;
  #origins: Record<string, string>;
  #referencedFiles = new Set<string>();
  #reloading: Promise<ReloadOutcome> | undefined;
  #reloadAgain = false;
  #debounce: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  /** Remembered so an unchanged bad state (re-read by every poll) is reported once, not every few seconds. */
  #lastRejection: string | undefined;
  #lastPendingRestart: string | undefined;
  #closed = false;

  private constructor(
    schema: S,
    sources: ConfigSource[],
    options: ConfigStoreOptions,
    initial: { values: Static<S>; origins: Record<string, string>; files: Set<string> },
  ) {
    this.#schema = schema;
    this.#sources = sources;
    this.#options = options;
    this.#reloadable = reloadableKeys(schema);
    this.#values = Object.freeze(initial.values) as Static<S>;
    this.#origins = initial.origins;
    this.#referencedFiles = initial.files;
    this.#reloadFailures = reloadFailures(options.metrics);
    this.#lastReloadSuccess = lastReloadSuccess(options.metrics);
    this.#lastReloadSuccess.set(1);
  }

  /** Loads the sources once; a bad configuration at start-up throws the ConfigError (the process must not serve). */
  static async open<S extends TObject>(
    schema: S,
    sources: ConfigSource[],
    options: ConfigStoreOptions,
  ): Promise<ConfigStore<S>> {
    const files = new Set<string>();
    const loaded = decodeConfig(schema, await loadLayers(schema, sources, files));
    return new ConfigStore(schema, sources, options, { ...loaded, files });
  }

  /** The current values: an immutable snapshot, replaced whole on each applied reload. */
  get values(): Static<S> {
    return this.#values;
  }

  get origins(): Record<string, string> {
    return this.#origins;
  }

  get schema(): S {
    return this.#schema;
  }

  isReloadable(key: string): boolean {
    return this.#reloadable.has(key);
  }

  /**
   * Calls `listener` after a reload that changed any of `keys`. Subscribing to a restart-only key is a mistake
   * the store reports at once rather than leaving a callback that can never fire.
   */
  subscribe<K extends keyof Static<S> & string>(keys: K[], listener: ConfigListener<Static<S>>): () => void {
    for (const key of keys) {
      if (!this.#reloadable.has(key))
        throw new Error(`${key} is not reloadable; mark it reloadable in the schema`);
    }
    const entry = { keys: new Set<string>(keys), listener };
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  /** Starts following the sources that can tell about changes, the referenced secret files and the poll timer. */
  watch(pollIntervalMs = this.#options.pollIntervalMs ?? 0): void {
    for (const source of this.#sources) {
      const stop = source.watch?.(() => this.scheduleReload());
      if (stop) this.#stopWatching.push(stop);
    }
    this.#watchReferencedFiles();
    if (pollIntervalMs > 0) {
      this.#poll = setInterval(() => void this.reload(), pollIntervalMs);
      this.#poll.unref();
    }
  }

  scheduleReload(): void {
    if (this.#closed) return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => void this.reload(), this.#options.debounceMs ?? 100);
    this.#debounce.unref();
  }

  /** Reloads every layer. Concurrent calls share the running reload and one more run follows it. */
  reload(): Promise<ReloadOutcome> {
    if (this.#reloading) {
      this.#reloadAgain = true;
      return this.#reloading;
    }
    this.#reloading = this.#reloadOnce().finally(() => {
      this.#reloading = undefined;
      if (this.#reloadAgain && !this.#closed) {
        this.#reloadAgain = false;
        void this.reload();
      }
    });
    return this.#reloading;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#debounce);
    clearInterval(this.#poll);
    for (const stop of this.#stopWatching.splice(0)) stop();
    for (const watcher of this.#fileWatchers.values()) watcher.close();
    this.#fileWatchers.clear();
    await this.#reloading?.catch(() => {});
    await Promise.all(this.#sources.map((source) => source.close?.()));
  }

  async #reloadOnce(): Promise<ReloadOutcome> {
    const { logger } = this.#options;
    let decoded: { values: Static<S>; origins: Record<string, string> };
    const files = new Set<string>();
    try {
      decoded = decodeConfig(this.#schema, await loadLayers(this.#schema, this.#sources, files));
    } catch (error) {
      const reason = error instanceof ConfigError ? 'invalid' : 'source';
      const message = (error as Error).message;
      this.#lastReloadSuccess.set(0);
      if (message !== this.#lastRejection) {
        this.#lastRejection = message;
        this.#reloadFailures.inc({ reason });
        logger.error(
          { reason, key: (error as ConfigError).key },
          `configuration reload rejected; keeping the last good configuration: ${message}`,
        );
      }
      return { status: 'rejected', reason: message };
    }
    this.#lastRejection = undefined;
    this.#lastReloadSuccess.set(1);
    this.#referencedFiles = files;
    if (!this.#closed) this.#watchReferencedFiles();

    const current = this.#values as Record<string, unknown>;
    const next = { ...current };
    const changed: string[] = [];
    const restartRequired: string[] = [];
    for (const key of Object.keys(this.#schema.properties)) {
      const value = (decoded.values as Record<string, unknown>)[key];
      if (isDeepStrictEqual(value, current[key])) continue;
      if (this.#reloadable.has(key)) {
        next[key] = value;
        changed.push(key);
      } else {
        restartRequired.push(key);
      }
    }

    const pending = JSON.stringify(
      restartRequired.map((key) => [key, (decoded.values as Record<string, unknown>)[key]]),
    );
    if (restartRequired.length > 0 && pending !== this.#lastPendingRestart) {
      const redacted = redactConfig(this.#schema, decoded.values as Record<string, unknown>);
      logger.warn(
        {
          keys: restartRequired,
          pending: Object.fromEntries(restartRequired.map((key) => [key, redacted[key]])),
        },
        `restart required: ${restartRequired.join(', ')} changed but only take effect after a restart; keeping the running values`,
      );
    }
    this.#lastPendingRestart = restartRequired.length > 0 ? pending : undefined;

    if (changed.length === 0) {
      return restartRequired.length > 0
        ? { status: 'restart-required', restartRequired }
        : { status: 'unchanged' };
    }
    const before = redactConfig(this.#schema, current);
    this.#values = Object.freeze(next) as Static<S>;
    this.#origins = {
      ...this.#origins,
      ...Object.fromEntries(changed.map((key) => [key, decoded.origins[key] ?? 'default'])),
    };
    const after = redactConfig(this.#schema, next);
    logger.info(
      {
        changed: Object.fromEntries(
          changed.map((key) => [key, { from: before[key], to: after[key], origin: this.#origins[key] }]),
        ),
      },
      `configuration reloaded: ${changed.join(', ')}`,
    );
    this.#notify(changed);
    return { status: 'applied', changed, restartRequired };
  }

  #notify(changed: string[]): void {
    for (const { keys, listener } of this.#listeners) {
      const relevant = changed.filter((key) => keys.has(key));
      if (relevant.length === 0) continue;
      try {
        listener(this.#values, relevant);
      } catch (error) {
        this.#options.logger.error({ error, keys: relevant }, 'a configuration listener failed');
      }
    }
  }

  /**
   * Secret files are replaced, not edited: Kubernetes swaps a `..data` symlink and Vault Agent renames a temp
   * file. Watching the directory sees both; watching the file itself would stay attached to the old inode.
   */
  #watchReferencedFiles(): void {
    const directories = new Set([...this.#referencedFiles].map((file) => dirname(file)));
    for (const directory of directories) {
      if (this.#fileWatchers.has(directory)) continue;
      try {
        const watcher = watch(directory, { persistent: false }, () => this.scheduleReload());
        watcher.on('error', () => {
          watcher.close();
          this.#fileWatchers.delete(directory);
        });
        this.#fileWatchers.set(directory, watcher);
      } catch (error) {
        this.#options.logger.warn(
          { directory, error },
          'cannot watch a secret file directory; relying on the poll interval',
        );
      }
    }
  }
}
