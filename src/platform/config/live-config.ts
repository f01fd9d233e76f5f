import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { type Static, type TObject, Type } from 'typebox';
import { ConfigError } from './config-error.ts';
import type { ConfigSource } from './config-source.ts';
import { ConfigStore } from './config-store.ts';
import { consulConfigSource } from './consul-config-source.ts';
import { etcdConfigSource } from './etcd-config-source.ts';
import { liveConfigProperties } from './live-config-schema.ts';
import { decodeLocal, type LocalLayers, localSources } from './local-layers.ts';
import { VaultClient } from './vault-client.ts';
import { vaultConfigSource } from './vault-config-source.ts';

/** The keys that choose the sources: read from the local layers, before any remote source exists. */
const sourceSettingsSchema = Type.Object(liveConfigProperties);

export interface LiveConfigSourcesOptions {
  /** The local layers as read at start (see readLocalLayers). */
  local: LocalLayers;
  logger: Logger;
  /** The service's registry: the config store, the config centre and Vault report in it. */
  metrics: Registry;
}

/**
 * The ordered sources, lowest precedence first: .env cascade < CONFIG_DIR < config centre < Vault < environment
 * (the schema's defaults sit below them all). Which of them exist is itself configuration, decoded from the local
 * layers read at start.
 */
export async function liveConfigSources(options: LiveConfigSourcesOptions): Promise<ConfigSource[]> {
  const settings = (await decodeLocal(sourceSettingsSchema, options.local)).values;
  const local = localSources(options.local);
  const sources: ConfigSource[] = [...local.below];
  const retry = {
    logger: options.logger,
    metrics: options.metrics,
    retryInitialMs: settings.CONFIG_REMOTE_RETRY_INITIAL_MS,
    retryMaxMs: settings.CONFIG_REMOTE_RETRY_MAX_MS,
  };
  if (settings.CONFIG_CENTRE === 'etcd') {
    sources.push(
      etcdConfigSource({
        ...retry,
        endpoints: settings.ETCD_ENDPOINTS.split(',').map((endpoint) => endpoint.trim()),
        prefix: settings.ETCD_PREFIX,
        username: settings.ETCD_USERNAME,
        password: settings.ETCD_PASSWORD,
        timeoutMs: settings.CONFIG_REMOTE_TIMEOUT_MS,
      }),
    );
  } else if (settings.CONFIG_CENTRE === 'consul') {
    sources.push(
      consulConfigSource({
        ...retry,
        address: settings.CONSUL_HTTP_ADDR,
        prefix: settings.CONSUL_KV_PREFIX,
        token: settings.CONSUL_HTTP_TOKEN,
        waitSeconds: settings.CONSUL_WAIT_SECONDS,
        timeoutMs: settings.CONFIG_REMOTE_TIMEOUT_MS,
      }),
    );
  }
  if (settings.VAULT_ADDR !== undefined) {
    sources.push(
      vaultConfigSource({
        client: vaultClientFrom(settings, options.logger, options.metrics),
        logger: options.logger,
        mount: settings.VAULT_KV_MOUNT,
        path: settings.VAULT_SECRET_PATH,
        refreshIntervalMs: settings.VAULT_REFRESH_INTERVAL_MS,
      }),
    );
  }
  sources.push(local.environment);
  return sources;
}

function vaultClientFrom(
  settings: Static<typeof sourceSettingsSchema>,
  logger: Logger,
  metrics: Registry,
): VaultClient {
  const method = settings.VAULT_AUTH_METHOD;
  const mount = settings.VAULT_AUTH_MOUNT ?? method;
  if (method === 'approle') {
    if (settings.VAULT_ROLE_ID === undefined || settings.VAULT_SECRET_ID === undefined) {
      throw new ConfigError(
        'VAULT_ROLE_ID',
        'Missing configuration: VAULT_AUTH_METHOD=approle needs VAULT_ROLE_ID and VAULT_SECRET_ID (or VAULT_SECRET_ID_FILE)',
      );
    }
  } else if (settings.VAULT_KUBERNETES_ROLE === undefined) {
    throw new ConfigError(
      'VAULT_KUBERNETES_ROLE',
      'Missing configuration: VAULT_AUTH_METHOD=kubernetes needs VAULT_KUBERNETES_ROLE',
    );
  }
  return new VaultClient({
    address: settings.VAULT_ADDR ?? '',
    logger,
    metrics,
    timeoutMs: settings.VAULT_TIMEOUT_MS,
    auth:
      method === 'approle'
        ? { method, mount, roleId: settings.VAULT_ROLE_ID ?? '', secretId: settings.VAULT_SECRET_ID ?? '' }
        : {
            method,
            mount,
            role: settings.VAULT_KUBERNETES_ROLE ?? '',
            jwtPath: settings.VAULT_KUBERNETES_TOKEN_PATH,
          },
  });
}

/** The live configuration of a service: its sources in the documented order, loaded once and ready to watch. */
export async function openLiveConfig<S extends TObject>(
  schema: S,
  options: LiveConfigSourcesOptions,
): Promise<ConfigStore<S>> {
  return ConfigStore.open(schema, await liveConfigSources(options), {
    logger: options.logger,
    metrics: options.metrics,
  });
}
