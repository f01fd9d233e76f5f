import { Type } from 'typebox';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** Keys every service on the platform understands; a service spreads these into its own schema. */
export const platformConfigProperties = {
  NODE_ENV: Type.String({ default: 'development', description: 'Selects the .env.$NODE_ENV files.' }),
  SERVICE_NAME: Type.String({
    minLength: 1,
    description: 'The `service` field of every log line and metric.',
  }),
  APP_VERSION: Type.String({
    minLength: 1,
    default: 'dev',
    description: 'The `version` field of logs, metrics and spans.',
  }),
  HOST: Type.String({ default: '0.0.0.0', description: 'Interface to listen on.' }),
  PORT: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: 8080,
    description: 'HTTP port (0 picks a free one).',
  }),
  LOG_LEVEL: Type.Enum(LOG_LEVELS, {
    default: 'info',
    reloadable: true,
    description: 'debug, info, warn or error. Reloadable.',
  }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({
    minimum: 0,
    default: 10_000,
    description: 'How long in-flight requests may run after SIGTERM before the process closes anyway.',
  }),
  SHUTDOWN_DELAY_MS: Type.Integer({
    minimum: 0,
    default: 0,
    description:
      'After SIGTERM, keep serving this long with readiness 503 before closing the listener (0 when a preStop sleep does this).',
  }),
  BODY_LIMIT_BYTES: Type.Integer({
    minimum: 1,
    default: 16_384,
    description: 'Largest accepted request body.',
  }),
  REQUEST_TIMEOUT_MS: Type.Integer({
    minimum: 0,
    default: 30_000,
    description: 'Socket-level bound on one request, so a slow client cannot hold a connection forever.',
  }),
  SLOW_REQUEST_MS: Type.Integer({
    minimum: 1,
    default: 1_000,
    reloadable: true,
    description: 'Requests slower than this are logged at WARN with `slow: true` and counted. Reloadable.',
  }),
  CANARY: Type.Boolean({
    default: false,
    reloadable: true,
    description:
      'This instance is a canary: the `canary` label of every metric, and a field of every log line and span. In Kubernetes a downward-API file of the pod label `canary` (which Argo Rollouts flips in place at promotion) in CONFIG_DIR sets it; the HTTP metrics follow a change at once, logs and spans keep the start value. Clients cannot set it (no request header counts).',
  }),
  WARM_UP_REQUESTS: Type.Integer({
    minimum: 0,
    maximum: 100_000,
    default: 0,
    description:
      'Read-only requests a service sends itself over loopback after it listens and before readiness passes, so V8 has compiled the request path when traffic arrives (users: list and by-id reads; not logged, counted, traced, rate-limited or faulted; bounded by WARM_UP_MAX_MS). 0 (the default, also in the image) turns it off; on slow nodes 1000 lowers the P99 of the first traffic for about 0.7 s more to ready (docs/container.md). A service that names no warm-up paths (alert-relay) ignores it.',
  }),
  WARM_UP_MAX_MS: Type.Integer({
    minimum: 100,
    maximum: 60_000,
    default: 10_000,
    description:
      'Longest the start-up warm-up may hold readiness back; it stops there whatever WARM_UP_REQUESTS asks (at 0.2 CPU, 1000 requests took about 1.8 s on memory://; on PostgreSQL every request is a query).',
  }),
  ACCEPT_LISTENERS: Type.Integer({
    minimum: 1,
    maximum: 64,
    default: 16,
    description:
      'Listening sockets on PORT (SO_REUSEPORT), each handing its connections to the one HTTP server. Node accepts one new connection per socket and event-loop turn, so under load a burst of new connections (a new pod taking traffic) waited up to a second with one socket; 16 accept 16 per turn. 1 is a plain single listener (and the only choice outside Linux and FreeBSD, where it is forced).',
  }),
  READINESS_TIMEOUT_MS: Type.Integer({
    minimum: 1,
    default: 1_000,
    description: 'Time limit for each readiness check.',
  }),
};
