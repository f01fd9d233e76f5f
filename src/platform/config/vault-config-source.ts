import type { Logger } from 'pino';
import type { ConfigLayer, ConfigSource } from './config-source.ts';
import type { VaultClient } from './vault-client.ts';

export interface VaultSourceOptions {
  client: VaultClient;
  logger: Logger;
  /** KV v2 mount, usually `secret`. */
  mount: string;
  /** Secret path under the mount; each field of the secret is a configuration key (`DATABASE_PASSWORD`, ...). */
  path: string;
  /** How often the secret is re-read to pick up a new version. */
  refreshIntervalMs: number;
}

/**
 * One KV v2 secret as a configuration layer. Reads after the first come from a refresh timer, so a reload never
 * waits on Vault and a Vault outage keeps the last values; a new secret version triggers a reload.
 */
export function vaultConfigSource(options: VaultSourceOptions): ConfigSource {
  const { client, logger } = options;
  let cached: ConfigLayer | undefined;
  let version = -1;
  let failing = false;

  const read = async (): Promise<boolean> => {
    const secret = await options.client.readKv(options.mount, options.path);
    if (secret.version === version && cached) return false;
    version = secret.version;
    const layer: ConfigLayer = {};
    const origin = `vault ${options.mount}/${options.path} v${secret.version}`;
    for (const [key, value] of Object.entries(secret.data)) layer[key] = { value, origin };
    cached = layer;
    return true;
  };

  return {
    name: `vault ${options.mount}/${options.path}`,
    async load() {
      if (cached === undefined) await read();
      return cached ?? {};
    },
    watch(onChange) {
      const timer = setInterval(async () => {
        try {
          const changed = await read();
          if (failing) logger.info({ source: 'vault' }, 'Vault reachable again');
          failing = false;
          if (changed) onChange();
        } catch (error) {
          if (!failing) {
            logger.warn(
              { source: 'vault', reason: (error as Error).message },
              'cannot read secrets from Vault; keeping the last values',
            );
          }
          failing = true;
        }
      }, options.refreshIntervalMs);
      timer.unref();
      return () => clearInterval(timer);
    },
    async close() {
      client.close();
    },
  };
}
