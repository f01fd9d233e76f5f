import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { Type } from 'typebox';
import { pollUntil } from '../../scripts/lib/poll-until.ts';
import { ConfigStore } from '../../src/platform/config/config-store.ts';
import { environmentSource } from '../../src/platform/config/environment-source.ts';
import { liveConfigSources } from '../../src/platform/config/live-config.ts';
import { readLocalLayers } from '../../src/platform/config/local-layers.ts';
import { VaultClient } from '../../src/platform/config/vault-client.ts';
import { vaultConfigSource } from '../../src/platform/config/vault-config-source.ts';
import { createLogger } from '../../src/platform/logging/logger.ts';
import { usersConfigSchema } from '../../src/services/users/config.ts';
import { LogCapture } from '../support/log-capture.ts';
import { VaultDouble } from '../support/vault-double.ts';

const schema = Type.Object({
  DATABASE_PASSWORD: Type.Optional(Type.String({ secret: true, reloadable: true })),
  LOG_LEVEL: Type.String({ default: 'info', reloadable: true }),
});

const until = (what: string, probe: () => boolean, timeoutMs = 10_000) =>
  pollUntil(probe, { what, timeoutMs, intervalMs: 20 });

describe('Vault KV v2 secrets (against a double of the documented endpoints)', () => {
  const vault = new VaultDouble();
  const logs = new LogCapture();
  const { logger } = createLogger({ service: 'test', version: 'test', level: 'debug', destination: logs });
  const metrics = new Registry();
  let dir: string;

  before(async () => {
    await vault.start();
    vault.writeSecret('secret/user-service', { DATABASE_PASSWORD: 'pw-version-1' });
    dir = await mkdtemp(join(tmpdir(), 'config-vault-'));
  });
  after(async () => {
    await vault.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('logs in with AppRole, reads the secret into the config and follows a new version', async () => {
    const client = new VaultClient({
      address: vault.address,
      auth: { method: 'approle', mount: 'approle', roleId: vault.roleId, secretId: vault.secretId },
      logger,
      metrics,
      timeoutMs: 2_000,
    });
    const store = await ConfigStore.open(
      schema,
      [
        vaultConfigSource({
          client,
          logger,
          mount: 'secret',
          path: 'user-service',
          refreshIntervalMs: 1_000,
        }),
        environmentSource({}),
      ],
      { logger, metrics, debounceMs: 10 },
    );
    try {
      assert.equal(store.values.DATABASE_PASSWORD, 'pw-version-1');
      assert.match(store.origins.DATABASE_PASSWORD ?? '', /^vault secret\/user-service v1$/);
      const rotated: string[] = [];
      store.subscribe(['DATABASE_PASSWORD'], () => rotated.push('rotated'));
      store.watch();
      vault.writeSecret('secret/user-service', { DATABASE_PASSWORD: 'pw-version-2' });
      await until('version 2', () => store.values.DATABASE_PASSWORD === 'pw-version-2');
      assert.deepEqual(rotated, ['rotated']);
    } finally {
      await store.close();
    }
  });

  it('renews the token before its TTL runs out, and logs in again when renewal fails', async () => {
    vault.tokenTtlS = 3;
    const client = new VaultClient({
      address: vault.address,
      auth: { method: 'approle', mount: 'approle', roleId: vault.roleId, secretId: vault.secretId },
      logger,
      metrics,
      timeoutMs: 2_000,
      retryInitialMs: 50,
    });
    try {
      await client.login();
      const logins = client.stats.logins;
      // 2/3 of a 3 s TTL: the renewal lands at about 2 s, before the token expires at 3 s.
      await until('a renewal', () => client.stats.renewals >= 1, 6_000);
      assert.equal(client.stats.logins, logins, 'renewed, not re-logged-in');
      const secret = await client.readKv('secret', 'user-service');
      assert.ok(secret.data.DATABASE_PASSWORD, 'the renewed token still reads');

      vault.failRenewals = true;
      await until(
        'a re-login after a failed renewal',
        () => client.stats.renewalFailures >= 1 && client.stats.logins > logins,
        8_000,
      );
      vault.failRenewals = false;
      assert.ok((await client.readKv('secret', 'user-service')).version >= 1);
      assert.ok(logs.lines.some((line) => /renewal failed; logging in again/.test(line.message)));
    } finally {
      client.close();
      vault.tokenTtlS = 30;
    }
  });

  it('logs in again when the token has already expired underneath a read', async () => {
    vault.tokenTtlS = 1;
    const client = new VaultClient({
      address: vault.address,
      auth: { method: 'approle', mount: 'approle', roleId: vault.roleId, secretId: vault.secretId },
      logger,
      metrics,
      timeoutMs: 2_000,
      // Renew far too late on purpose: the read must recover by itself.
      renewAtFraction: 100,
    });
    try {
      await client.login();
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      const before = client.stats.logins;
      const secret = await client.readKv('secret', 'user-service');
      assert.ok(secret.data.DATABASE_PASSWORD);
      assert.equal(client.stats.logins, before + 1);
    } finally {
      client.close();
      vault.tokenTtlS = 30;
    }
  });

  it('logs in with Kubernetes auth from the service-account token file, configured through the keys', async () => {
    const jwtPath = join(dir, 'token');
    await writeFile(jwtPath, `${vault.kubernetesJwt}\n`);
    const env = {
      VAULT_ADDR: vault.address,
      VAULT_AUTH_METHOD: 'kubernetes',
      VAULT_KUBERNETES_ROLE: vault.kubernetesRole,
      VAULT_KUBERNETES_TOKEN_PATH: jwtPath,
      VAULT_REFRESH_INTERVAL_MS: '1000',
    };
    const store = await ConfigStore.open(
      usersConfigSchema,
      await liveConfigSources({ local: await readLocalLayers({ directory: dir, env }), logger, metrics }),
      { logger, metrics },
    );
    try {
      assert.equal(
        store.values.DATABASE_PASSWORD,
        vault.secrets.get('secret/user-service')?.data.DATABASE_PASSWORD,
      );
      assert.ok(vault.count('/v1/auth/kubernetes/login') >= 1);
    } finally {
      await store.close();
    }
  });

  it('refuses a wrong secret_id at start-up', async () => {
    const client = new VaultClient({
      address: vault.address,
      auth: { method: 'approle', mount: 'approle', roleId: vault.roleId, secretId: 'wrong' },
      logger,
      metrics,
      timeoutMs: 2_000,
    });
    await assert.rejects(client.readKv('secret', 'user-service'), /answered 400: invalid role or secret ID/);
    client.close();
  });

  it('never writes a token, secret_id, JWT or secret value to the log', () => {
    const leaked = logs.raw.filter(
      (line) =>
        line.includes('hvs.') ||
        line.includes(vault.secretId) ||
        line.includes(vault.kubernetesJwt) ||
        line.includes('pw-version'),
    );
    assert.deepEqual(leaked, []);
    assert.ok(logs.lines.some((line) => line.message === 'logged in to Vault'));
  });
});
