import { Type } from 'typebox';

/**
 * Where configuration comes from and how it is followed. All of these are restart-only: they choose the
 * sources, so a source cannot reconfigure itself.
 */
export const liveConfigProperties = {
  CONFIG_DIR: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'Directory with one file per key (a mounted Kubernetes ConfigMap or Secret volume); overrides the .env files, is overridden by the config centre and the environment, and is reloaded when Kubernetes swaps its `..data` link.',
    }),
  ),
  CONFIG_CENTRE: Type.Enum(['none', 'etcd', 'consul'], {
    default: 'none',
    description: 'Remote config centre to read and watch: `etcd` (ETCD_*), `consul` (CONSUL_*) or `none`.',
  }),
  CONFIG_POLL_INTERVAL_MS: Type.Integer({
    minimum: 0,
    default: 10_000,
    description:
      'Re-read the local layers (.env files, CONFIG_DIR, NAME_FILE secrets) this often, in case a file-change event was missed; 0 turns polling off.',
  }),
  CONFIG_REMOTE_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 3_000,
    description: 'Bound on each read from the config centre.',
  }),
  CONFIG_REMOTE_RETRY_INITIAL_MS: Type.Integer({
    minimum: 10,
    default: 500,
    description:
      'First retry delay after losing the config centre; doubles per attempt, each delay drawn from the upper half of its step (half jitter).',
  }),
  CONFIG_REMOTE_RETRY_MAX_MS: Type.Integer({
    minimum: 10,
    default: 30_000,
    description: 'Largest retry delay while the config centre stays unreachable.',
  }),
  ETCD_ENDPOINTS: Type.String({
    default: 'http://127.0.0.1:2379',
    description: 'Comma-separated etcd v3 endpoints (CONFIG_CENTRE=etcd).',
  }),
  ETCD_PREFIX: Type.String({
    default: '/config/user-service/',
    description:
      'etcd key prefix; the rest of each key is the configuration key (`/config/user-service/LOG_LEVEL`).',
  }),
  ETCD_USERNAME: Type.Optional(Type.String({ description: 'etcd user, when etcd authentication is on.' })),
  ETCD_PASSWORD: Type.Optional(
    Type.String({ secret: true, description: 'etcd password (or ETCD_PASSWORD_FILE).' }),
  ),
  CONSUL_HTTP_ADDR: Type.String({
    default: 'http://127.0.0.1:8500',
    description: 'Consul HTTP API address (CONFIG_CENTRE=consul).',
  }),
  CONSUL_KV_PREFIX: Type.String({
    default: 'config/user-service/',
    description:
      'Consul KV prefix; the rest of each key is the configuration key (`config/user-service/LOG_LEVEL`).',
  }),
  CONSUL_HTTP_TOKEN: Type.Optional(
    Type.String({ secret: true, description: 'Consul ACL token (or CONSUL_HTTP_TOKEN_FILE).' }),
  ),
  CONSUL_WAIT_SECONDS: Type.Integer({
    minimum: 1,
    maximum: 600,
    default: 55,
    description: 'How long one Consul blocking query waits for a change before it is reissued.',
  }),
  VAULT_ADDR: Type.Optional(
    Type.String({
      pattern: '^https?://',
      description:
        'Vault address; when set, the KV v2 secret VAULT_KV_MOUNT/VAULT_SECRET_PATH supplies keys (e.g. DATABASE_PASSWORD).',
    }),
  ),
  VAULT_AUTH_METHOD: Type.Enum(['approle', 'kubernetes'], {
    default: 'kubernetes',
    description:
      '`approle` (VAULT_ROLE_ID + VAULT_SECRET_ID) or `kubernetes` (service account token + VAULT_KUBERNETES_ROLE).',
  }),
  VAULT_AUTH_MOUNT: Type.Optional(
    Type.String({ minLength: 1, description: 'Mount path of the auth method; defaults to the method name.' }),
  ),
  VAULT_ROLE_ID: Type.Optional(Type.String({ description: 'AppRole role_id.' })),
  VAULT_SECRET_ID: Type.Optional(
    Type.String({ secret: true, description: 'AppRole secret_id; give it as VAULT_SECRET_ID_FILE.' }),
  ),
  VAULT_KUBERNETES_ROLE: Type.Optional(Type.String({ description: 'Vault role for Kubernetes auth.' })),
  VAULT_KUBERNETES_TOKEN_PATH: Type.String({
    default: '/var/run/secrets/kubernetes.io/serviceaccount/token',
    description:
      'Service account token presented to Vault’s Kubernetes auth (re-read at each login: it rotates).',
  }),
  VAULT_KV_MOUNT: Type.String({ default: 'secret', description: 'KV v2 secrets engine mount.' }),
  VAULT_SECRET_PATH: Type.String({
    default: 'user-service',
    description: 'Secret path under VAULT_KV_MOUNT.',
  }),
  VAULT_REFRESH_INTERVAL_MS: Type.Integer({
    minimum: 1_000,
    default: 60_000,
    description: 'How often the Vault secret is re-read to pick up a new version.',
  }),
  VAULT_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 3_000,
    description: 'Bound on each call to Vault.',
  }),
};
