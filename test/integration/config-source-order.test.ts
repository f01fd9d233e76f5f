import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { Type } from 'typebox';
import { openLiveConfig } from '../../src/platform/config/live-config.ts';
import { readLocalLayers } from '../../src/platform/config/local-layers.ts';
import { createLogger } from '../../src/platform/logging/logger.ts';
import { ConsulDouble } from '../support/consul-double.ts';
import { LogCapture } from '../support/log-capture.ts';
import { VaultDouble } from '../support/vault-double.ts';

const schema = Type.Object({
  FROM_DEFAULT: Type.String({ default: 'default' }),
  FROM_DOTENV: Type.String({ default: 'default' }),
  FROM_FILES: Type.String({ default: 'default' }),
  FROM_CENTRE: Type.String({ default: 'default' }),
  FROM_VAULT: Type.String({ default: 'default' }),
  FROM_ENV: Type.String({ default: 'default' }),
});

describe('the documented source order, all layers at once', () => {
  const consul = new ConsulDouble();
  const vault = new VaultDouble();
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'config-order-'));
    await consul.start();
    await vault.start();
  });
  after(async () => {
    await consul.stop();
    await vault.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('defaults < .env < CONFIG_DIR < config centre < Vault < environment', async () => {
    // Each layer sets its own key and every key of the layers above it, so only the order decides.
    const keys = ['FROM_DOTENV', 'FROM_FILES', 'FROM_CENTRE', 'FROM_VAULT', 'FROM_ENV'];
    const layer = (name: string, from: number) =>
      Object.fromEntries(keys.slice(from).map((key) => [key, name]));
    await writeFile(
      join(dir, '.env'),
      Object.entries(layer('dotenv', 0))
        .map(([key, value]) => `${key}=${value}`)
        .join('\n'),
    );
    await mkdir(join(dir, 'mounted'));
    for (const [key, value] of Object.entries(layer('files', 1)))
      await writeFile(join(dir, 'mounted', key), value);
    for (const [key, value] of Object.entries(layer('consul', 2)))
      consul.put(`config/user-service/${key}`, value);
    vault.writeSecret('secret/user-service', layer('vault', 3));
    const env = {
      CONFIG_DIR: join(dir, 'mounted'),
      CONFIG_CENTRE: 'consul',
      CONSUL_HTTP_ADDR: consul.address,
      VAULT_ADDR: vault.address,
      VAULT_AUTH_METHOD: 'approle',
      VAULT_ROLE_ID: vault.roleId,
      VAULT_SECRET_ID: vault.secretId,
      ...layer('environment', 4),
    };
    const { logger } = createLogger({
      service: 'test',
      version: 'test',
      level: 'warn',
      destination: new LogCapture(),
    });
    const store = await openLiveConfig(schema, {
      local: await readLocalLayers({ directory: dir, env }),
      logger,
      metrics: new Registry(),
    });
    try {
      assert.deepEqual(store.values, {
        FROM_DEFAULT: 'default',
        FROM_DOTENV: 'dotenv',
        FROM_FILES: 'files',
        FROM_CENTRE: 'consul',
        FROM_VAULT: 'vault',
        FROM_ENV: 'environment',
      });
      assert.equal(store.origins.FROM_CENTRE, 'consul config/user-service/FROM_CENTRE');
    } finally {
      await store.close();
    }
  });
});
