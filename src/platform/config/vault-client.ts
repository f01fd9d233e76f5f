import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Counter, Registry } from 'prom-client';
import { HttpCallError, requestJson } from '../http/json-http.ts';
import { counter } from '../metrics/metrics-registry.ts';
import { ReconnectDelays } from '../resilience/reconnect-delays.ts';

const authEvents = (registry: Registry) =>
  counter(
    registry,
    'vault_auth_events_total',
    'Vault token events: login, login_failure, renewal, renewal_failure.',
    ['event'],
  );

export type VaultAuth =
  | { method: 'approle'; mount: string; roleId: string; secretId: string }
  | { method: 'kubernetes'; mount: string; role: string; jwtPath: string };

export interface VaultClientOptions {
  address: string;
  auth: VaultAuth;
  logger: Logger;
  /** Where `vault_auth_events_total` is registered. */
  metrics: Registry;
  /** Bound on each HTTP call to Vault. */
  timeoutMs: number;
  /** Renew when this fraction of the token's TTL has passed (Vault Agent uses about two thirds). */
  renewAtFraction?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

export interface KvSecret {
  data: Record<string, string>;
  version: number;
}

export class VaultError extends HttpCallError {
  override readonly name = 'VaultError';
}

interface AuthResponse {
  auth: { client_token: string; lease_duration: number; renewable: boolean };
}

/**
 * A small Vault client over the documented HTTP API: log in (AppRole or Kubernetes), read KV v2 secrets, and
 * keep the token alive. The token is renewed once `renewAtFraction` of its TTL has passed; when renewal fails
 * (the token hit its max TTL, was revoked, or Vault restarted without it) the client logs in again, retrying
 * with jittered backoff while Vault is unreachable. The token and secret values never reach a log line.
 */
export class VaultClient {
  readonly #options: VaultClientOptions;
  readonly #authEvents: Counter<'event'>;
  #token: string | undefined;
  #ttlSeconds = 0;
  #renewable = false;
  #renewTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #nearMaxTtl = false;
  #loginInFlight: Promise<void> | undefined;
  /** How many logins and renewals happened; tests and the metrics read these. */
  readonly stats = { logins: 0, renewals: 0, renewalFailures: 0 };

  constructor(options: VaultClientOptions) {
    this.#options = options;
    this.#authEvents = authEvents(options.metrics);
  }

  get tokenTtlSeconds(): number {
    return this.#ttlSeconds;
  }

  async login(): Promise<void> {
    this.#loginInFlight ??= this.#login().finally(() => {
      this.#loginInFlight = undefined;
    });
    return this.#loginInFlight;
  }

  async #login(): Promise<void> {
    const { auth } = this.#options;
    const body =
      auth.method === 'approle'
        ? { role_id: auth.roleId, secret_id: auth.secretId }
        : { role: auth.role, jwt: (await readFile(auth.jwtPath, 'utf8')).trim() };
    const response = (await this.#request(
      'POST',
      `/v1/auth/${auth.mount}/login`,
      body,
      false,
    )) as AuthResponse;
    this.#adopt(response);
    this.#nearMaxTtl = false;
    this.stats.logins += 1;
    this.#authEvents.inc({ event: 'login' });
    this.#options.logger.info(
      { vault_auth: auth.method, ttl_s: this.#ttlSeconds, renewable: this.#renewable },
      'logged in to Vault',
    );
  }

  /** Reads a KV v2 secret: GET /v1/{mount}/data/{path}. A 403 (token expired underneath us) logs in once more. */
  async readKv(mount: string, path: string): Promise<KvSecret> {
    if (this.#token === undefined) await this.login();
    let result: unknown;
    try {
      result = await this.#request('GET', `/v1/${mount}/data/${path}`);
    } catch (error) {
      if (!(error instanceof VaultError) || error.status !== 403) throw error;
      await this.login();
      result = await this.#request('GET', `/v1/${mount}/data/${path}`);
    }
    const { data } = result as { data: { data: Record<string, unknown>; metadata: { version: number } } };
    const values: Record<string, string> = {};
    for (const [key, value] of Object.entries(data.data ?? {})) {
      values[key] = typeof value === 'string' ? value : JSON.stringify(value);
    }
    return { data: values, version: data.metadata?.version ?? 0 };
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#renewTimer);
  }

  #adopt(response: AuthResponse): void {
    this.#token = response.auth.client_token;
    this.#ttlSeconds = response.auth.lease_duration;
    this.#renewable = response.auth.renewable;
    this.#scheduleRenewal();
  }

  #scheduleRenewal(): void {
    clearTimeout(this.#renewTimer);
    // A TTL of 0 is a root-like token that never expires: nothing to renew.
    if (this.#closed || this.#ttlSeconds <= 0) return;
    const delayMs = this.#ttlSeconds * 1_000 * (this.#options.renewAtFraction ?? 2 / 3);
    this.#renewTimer = setTimeout(() => void this.#renewOrRelogin(), delayMs);
    this.#renewTimer.unref();
  }

  async #renewOrRelogin(): Promise<void> {
    const { logger } = this.#options;
    if (this.#renewable && !this.#nearMaxTtl) {
      try {
        const previousTtl = this.#ttlSeconds;
        const response = (await this.#request('POST', '/v1/auth/token/renew-self', {})) as AuthResponse;
        this.#adopt(response);
        this.stats.renewals += 1;
        this.#authEvents.inc({ event: 'renewal' });
        // A renewal that grants less than before means the max TTL is close: the next turn logs in instead.
        this.#nearMaxTtl = this.#ttlSeconds < previousTtl;
        logger.debug({ ttl_s: this.#ttlSeconds, near_max_ttl: this.#nearMaxTtl }, 'Vault token renewed');
        return;
      } catch (error) {
        this.stats.renewalFailures += 1;
        this.#authEvents.inc({ event: 'renewal_failure' });
        logger.warn({ reason: (error as Error).message }, 'Vault token renewal failed; logging in again');
      }
    }
    const delays = new ReconnectDelays(
      this.#options.retryInitialMs ?? 500,
      this.#options.retryMaxMs ?? 30_000,
    );
    for (let attempt = 1; !this.#closed; attempt += 1) {
      try {
        await this.login();
        return;
      } catch (error) {
        this.#authEvents.inc({ event: 'login_failure' });
        const retryMs = delays.next();
        logger.warn(
          { attempt, retry_in_ms: retryMs, reason: (error as Error).message },
          'Vault login failed',
        );
        await new Promise((resolve) => setTimeout(resolve, retryMs).unref());
      }
    }
  }

  async #request(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    authenticated = true,
  ): Promise<unknown> {
    const headers: Record<string, string> = {};
    if (authenticated && this.#token !== undefined) headers['x-vault-token'] = this.#token;
    // Vault's error bodies are `{"errors":[...]}` messages, never secrets; the request path is safe to name.
    const answer = await requestJson<unknown>(new URL(path, this.#options.address), {
      service: 'Vault',
      method,
      headers,
      json: body,
      timeoutMs: this.#options.timeoutMs,
      errorClass: VaultError,
    });
    return answer.body ?? {};
  }
}
