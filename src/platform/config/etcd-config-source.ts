import { noop } from 'cockatiel';
import type { Etcd3, IOptions, Watcher } from 'etcd3';
import type { ConfigLayer, ConfigSource } from './config-source.ts';
import { type RemoteFollower, type RemoteSourceOptions, remoteConfigSource } from './remote-config-source.ts';

export interface EtcdSourceOptions extends Omit<RemoteSourceOptions, 'name'> {
  /** `http://host:2379` URLs. */
  endpoints: string[];
  /** Keys under this prefix are configuration keys: `/config/user-service/LOG_LEVEL` sets LOG_LEVEL. */
  prefix: string;
  username?: string | undefined;
  password?: string | undefined;
  /** Bound on each read and on establishing a watch. */
  timeoutMs: number;
}

/**
 * etcd v3 as a config centre: reads the prefix, then watches it. The client's own retry and breaker policies are
 * off (the shared loop owns retrying), and each reconnect uses a fresh client so a wedged gRPC channel cannot
 * outlive an outage.
 */
export function etcdConfigSource(options: EtcdSourceOptions): ConfigSource {
  return remoteConfigSource(etcdFollower(options), { ...options, name: `etcd ${options.prefix}` });
}

export function etcdFollower(options: EtcdSourceOptions): RemoteFollower {
  let client: Etcd3 | undefined;
  let watcher: Watcher | undefined;
  let changed = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;

  // Loaded on first use: etcd3 reads its .proto files at import time, which only etcd users should pay for.
  let etcd3: Promise<typeof import('etcd3')> | undefined;
  const connect = async () => {
    etcd3 ??= import('etcd3');
    const { Etcd3 } = await etcd3;
    const clientOptions: IOptions = {
      hosts: options.endpoints,
      dialTimeout: options.timeoutMs,
      faultHandling: { host: () => noop, global: noop },
    };
    if (options.username !== undefined && options.password !== undefined) {
      clientOptions.auth = { username: options.username, password: options.password };
    }
    client ??= new Etcd3(clientOptions);
    return client;
  };

  const readAll = async (etcd: Etcd3, signal: AbortSignal): Promise<ConfigLayer> => {
    const values = await bounded(etcd.getAll().prefix(options.prefix).strings(), options.timeoutMs, signal);
    const layer: ConfigLayer = {};
    for (const [key, value] of Object.entries(values)) {
      const name = key.slice(options.prefix.length);
      if (name !== '') layer[name] = { value, origin: `etcd ${key}` };
    }
    return layer;
  };

  const reset = async () => {
    const old = watcher;
    watcher = undefined;
    const oldClient = client;
    client = undefined;
    changed = false;
    failure = undefined;
    old?.removeAllListeners();
    await old?.cancel().catch(() => {});
    oldClient?.close();
  };

  return {
    fetch: async (signal) => readAll(await connect(), signal),
    async next(signal) {
      if (!watcher) {
        const etcd = await connect();
        // Watch first, then read: a change between the two is then seen twice rather than never.
        const created = await bounded(
          etcd.watch().prefix(options.prefix).create(),
          options.timeoutMs,
          signal,
        );
        watcher = created;
        const poke = () => {
          const resolve = wake;
          wake = undefined;
          resolve?.();
        };
        created.on('put', () => {
          changed = true;
          poke();
        });
        created.on('delete', () => {
          changed = true;
          poke();
        });
        const lost = (error: Error) => {
          failure = error ?? new Error('etcd watch ended');
          poke();
        };
        created.on('disconnected', lost);
        created.on('error', lost);
        created.on('end', () => lost(new Error('etcd watch ended')));
        return readAll(etcd, signal);
      }
      // etcd3 reconnects a broken watch stream quietly, so silence could mean either "no change" or "server
      // gone". A periodic status call tells them apart; its failure hands the outage to the retry loop.
      const heartbeatMs = Math.max(1_000, options.timeoutMs);
      while (!changed && !failure && !signal.aborted) {
        const woken = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), heartbeatMs);
          wake = () => {
            clearTimeout(timer);
            resolve(true);
          };
          signal.addEventListener('abort', () => wake?.(), { once: true });
        });
        if (!woken && client) await bounded(client.maintenance.status(), options.timeoutMs, signal);
      }
      if (failure) throw failure;
      if (signal.aborted) throw new Error('closed');
      changed = false;
      return readAll(await connect(), signal);
    },
    reset,
    close: reset,
  };
}

function bounded<T>(promise: Promise<T>, timeoutMs: number, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`etcd did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onAbort = () => reject(new Error('closed'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
