import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Token {
  expiresAt: number;
  issuedAt: number;
  ttlS: number;
  maxTtlS: number;
  renewable: boolean;
}

/**
 * An in-test stand-in for the Vault endpoints the service uses, shaped as documented:
 * - POST /v1/auth/{approle}/login {role_id, secret_id} and POST /v1/auth/{kubernetes}/login {role, jwt}
 *   -> {auth: {client_token, lease_duration, renewable, policies}}
 * - POST /v1/auth/token/renew-self (X-Vault-Token) -> the same `auth` block, TTL capped by the max TTL
 * - GET /v1/{mount}/data/{path} (X-Vault-Token) -> {data: {data, metadata: {version}}}
 * Errors are `{"errors":[...]}` with 400/403/404. Tokens really expire, so a client that does not renew fails.
 */
export class VaultDouble {
  readonly tokens = new Map<string, Token>();
  readonly secrets = new Map<string, { data: Record<string, string>; version: number }>();
  readonly calls: { method: string; path: string }[] = [];
  roleId = 'role-1234';
  secretId = 'secret-id-s3cr3t';
  kubernetesRole = 'user-service';
  kubernetesJwt = 'eyJhbGciOiJSUzI1NiJ9.service-account.signature';
  tokenTtlS = 30;
  tokenMaxTtlS = 3_600;
  /** When true, renew-self answers 403 as if the token had been revoked. */
  failRenewals = false;
  #server: Server | undefined;

  get address(): string {
    const address = this.#server?.address() as AddressInfo | undefined;
    if (!address) throw new Error('the Vault double is not running');
    return `http://127.0.0.1:${address.port}`;
  }

  async start(): Promise<void> {
    this.#server = createServer((request, response) => void this.#handle(request, response));
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    this.#server?.close();
  }

  writeSecret(mountAndPath: string, data: Record<string, string>): void {
    const version = (this.secrets.get(mountAndPath)?.version ?? 0) + 1;
    this.secrets.set(mountAndPath, { data, version });
  }

  count(path: string): number {
    return this.calls.filter((call) => call.path === path).length;
  }

  #issue(): { client_token: string; lease_duration: number; renewable: boolean; policies: string[] } {
    const token = `hvs.${randomBytes(12).toString('hex')}`;
    const now = Date.now();
    this.tokens.set(token, {
      issuedAt: now,
      expiresAt: now + this.tokenTtlS * 1_000,
      ttlS: this.tokenTtlS,
      maxTtlS: this.tokenMaxTtlS,
      renewable: true,
    });
    return {
      client_token: token,
      lease_duration: this.tokenTtlS,
      renewable: true,
      policies: ['user-service'],
    };
  }

  #valid(request: IncomingMessage): [string, Token] | undefined {
    const token = request.headers['x-vault-token'] as string | undefined;
    const entry = token === undefined ? undefined : this.tokens.get(token);
    if (!token || !entry || entry.expiresAt <= Date.now()) return undefined;
    return [token, entry];
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of request) raw += chunk;
    const path = new URL(request.url ?? '/', 'http://vault').pathname;
    this.calls.push({ method: request.method ?? 'GET', path });
    const body = raw === '' ? {} : (JSON.parse(raw) as Record<string, string>);
    const send = (status: number, payload: unknown) =>
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));

    if (request.method === 'POST' && path === '/v1/auth/approle/login') {
      if (body.role_id !== this.roleId || body.secret_id !== this.secretId) {
        return void send(400, { errors: ['invalid role or secret ID'] });
      }
      return void send(200, { auth: this.#issue() });
    }
    if (request.method === 'POST' && path === '/v1/auth/kubernetes/login') {
      if (body.role !== this.kubernetesRole || body.jwt !== this.kubernetesJwt) {
        return void send(403, { errors: ['permission denied'] });
      }
      return void send(200, { auth: this.#issue() });
    }
    if (request.method === 'POST' && path === '/v1/auth/token/renew-self') {
      const valid = this.#valid(request);
      if (!valid || this.failRenewals) return void send(403, { errors: ['permission denied'] });
      const [token, entry] = valid;
      const now = Date.now();
      const remainingMaxS = Math.max(0, Math.floor((entry.issuedAt + entry.maxTtlS * 1_000 - now) / 1_000));
      const ttl = Math.min(entry.ttlS, remainingMaxS);
      entry.expiresAt = now + ttl * 1_000;
      return void send(200, {
        auth: { client_token: token, lease_duration: ttl, renewable: true, policies: ['user-service'] },
      });
    }
    const kv = /^\/v1\/([^/]+)\/data\/(.+)$/.exec(path);
    if (request.method === 'GET' && kv) {
      if (!this.#valid(request)) return void send(403, { errors: ['permission denied'] });
      const secret = this.secrets.get(`${kv[1]}/${kv[2]}`);
      if (!secret) return void send(404, { errors: [] });
      return void send(200, {
        data: {
          data: secret.data,
          metadata: { version: secret.version, created_time: new Date().toISOString(), destroyed: false },
        },
      });
    }
    send(404, { errors: ['no handler for route'] });
  }
}
