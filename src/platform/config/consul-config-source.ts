import { requestJson } from '../http/json-http.ts';
import type { ConfigLayer, ConfigSource } from './config-source.ts';
import { type RemoteFollower, type RemoteSourceOptions, remoteConfigSource } from './remote-config-source.ts';

export interface ConsulSourceOptions extends Omit<RemoteSourceOptions, 'name'> {
  /** `http://127.0.0.1:8500` */
  address: string;
  /** KV prefix without a leading slash: `config/user-service/` makes `config/user-service/LOG_LEVEL` set LOG_LEVEL. */
  prefix: string;
  token?: string | undefined;
  /** How long one blocking query may wait for a change (Consul caps it at 10 minutes). */
  waitSeconds: number;
  /** Bound on a plain (non-blocking) read. */
  timeoutMs: number;
}

interface ConsulKvEntry {
  Key: string;
  Value: string | null;
  ModifyIndex: number;
}

/**
 * Consul KV as a config centre, followed with blocking queries: each read passes the last `X-Consul-Index` and
 * Consul holds the request until the prefix changes or `wait` passes. Index handling follows Consul's documented
 * rules: an index that goes backwards (a snapshot restore) resets to 0, and an index below 1 is treated as 1.
 */
export function consulConfigSource(options: ConsulSourceOptions): ConfigSource {
  return remoteConfigSource(consulFollower(options), { ...options, name: `consul ${options.prefix}` });
}

export function consulFollower(options: ConsulSourceOptions): RemoteFollower {
  let index = 0;

  const read = async (blocking: boolean, signal: AbortSignal): Promise<ConfigLayer> => {
    const url = new URL(`/v1/kv/${options.prefix}`, options.address);
    url.searchParams.set('recurse', 'true');
    // Consul adds up to wait/16 of jitter, so the client bound must sit above wait plus that.
    let boundMs = options.timeoutMs;
    if (blocking && index > 0) {
      url.searchParams.set('index', String(index));
      url.searchParams.set('wait', `${options.waitSeconds}s`);
      boundMs = options.waitSeconds * 1_000 * (17 / 16) + options.timeoutMs;
    }
    const headers: Record<string, string> = {};
    if (options.token) headers['x-consul-token'] = options.token;
    // 404 is Consul's answer for an empty prefix: no keys, not an error.
    const answer = await requestJson<ConsulKvEntry[] | undefined>(url, {
      service: 'Consul',
      headers,
      signal,
      timeoutMs: boundMs,
      acceptStatus: [404],
    });
    const newIndex = Number(answer.headers.get('x-consul-index') ?? '0');
    index = !Number.isFinite(newIndex) || newIndex < index ? 0 : Math.max(newIndex, 1);
    const entries = answer.status === 404 ? [] : (answer.body ?? []);
    const layer: ConfigLayer = {};
    for (const entry of entries) {
      const name = entry.Key.slice(options.prefix.length);
      if (name === '' || name.endsWith('/') || entry.Value === null) continue;
      layer[name] = {
        value: Buffer.from(entry.Value, 'base64').toString('utf8'),
        origin: `consul ${entry.Key}`,
      };
    }
    return layer;
  };

  // Consul's guidance: rate-limit blocking queries client-side, since a reset or flapping index answers at once.
  let lastBlockingAt = 0;
  const minIntervalMs = 100;
  return {
    fetch: (signal) => read(false, signal),
    async next(signal) {
      const waitMs = lastBlockingAt + minIntervalMs - Date.now();
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      lastBlockingAt = Date.now();
      return read(true, signal);
    },
    reset() {
      index = 0;
    },
  };
}
