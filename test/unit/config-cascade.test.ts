import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Type } from 'typebox';
import { ConfigError } from '../../src/platform/config/config-error.ts';
import { describeConfig, REDACTED, redactUrlPassword } from '../../src/platform/config/describe-config.ts';
import { dotenvCascadeFiles, dotenvCascadeSource } from '../../src/platform/config/dotenv-cascade-source.ts';
import { environmentSource } from '../../src/platform/config/environment-source.ts';
import { loadConfig } from '../../src/platform/config/load-config.ts';
import { usersConfigSchema } from '../../src/services/users/config.ts';

const schema = Type.Object({
  PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8080 }),
  LOG_LEVEL: Type.Enum(['debug', 'info', 'warn', 'error'], { default: 'info' }),
  GREETING: Type.String({ default: 'hello' }),
  FEATURE: Type.Boolean({ default: false }),
  API_TOKEN: Type.Optional(Type.String({ secret: true })),
  REQUIRED_URL: Type.String({ minLength: 1 }),
});

let dir: string;

async function load(files: Record<string, string>, env: Record<string, string> = {}, nodeEnv?: string) {
  for (const file of dotenvCascadeFiles(nodeEnv)) await rm(join(dir, file), { force: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return loadConfig(schema, [dotenvCascadeSource({ directory: dir, nodeEnv }), environmentSource(env)]);
}

describe('config cascade', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'config-cascade-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads .env, .env.local, .env.$NODE_ENV, .env.$NODE_ENV.local in that order, later winning', async () => {
    const { values, origins } = await load(
      {
        '.env': 'REQUIRED_URL=x\nPORT=1000\nGREETING=from-env\nLOG_LEVEL=debug\n',
        '.env.local': 'PORT=2000\nGREETING=from-local\n',
        '.env.staging': 'PORT=3000\n',
        '.env.staging.local': 'PORT=4000\n',
      },
      {},
      'staging',
    );
    assert.equal(values.PORT, 4000);
    assert.equal(origins.PORT, '.env.staging.local');
    assert.equal(values.GREETING, 'from-local');
    assert.equal(origins.GREETING, '.env.local');
    assert.equal(values.LOG_LEVEL, 'debug');
    assert.equal(origins.LOG_LEVEL, '.env');
  });

  it('ignores .env.$NODE_ENV files of other environments', async () => {
    const { values } = await load(
      { '.env': 'REQUIRED_URL=x\n', '.env.production': 'PORT=9999\n' },
      {},
      'staging',
    );
    assert.equal(values.PORT, 8080);
  });

  it('lets real environment variables win over every file', async () => {
    const { values, origins } = await load({ '.env': 'REQUIRED_URL=x\nPORT=1000\n' }, { PORT: '5555' });
    assert.equal(values.PORT, 5555);
    assert.equal(origins.PORT, 'environment');
  });

  it('applies typed defaults and converts strings to the schema types', async () => {
    const { values, origins } = await load({ '.env': 'REQUIRED_URL=x\nFEATURE=true\n' });
    assert.deepEqual(
      { PORT: values.PORT, FEATURE: values.FEATURE, GREETING: values.GREETING },
      { PORT: 8080, FEATURE: true, GREETING: 'hello' },
    );
    assert.equal(origins.PORT, 'default');
  });

  it('reads NAME_FILE values from files, trimming one trailing newline', async () => {
    const secretPath = join(dir, 'token.txt');
    await writeFile(secretPath, 's3cr3t-value\n');
    const { values, origins } = await load(
      { '.env': 'REQUIRED_URL=x\nAPI_TOKEN=from-env-file\n' },
      { API_TOKEN_FILE: secretPath },
    );
    assert.equal(values.API_TOKEN, 's3cr3t-value');
    assert.match(origins.API_TOKEN ?? '', /token\.txt/);
  });

  it('names the key, the problem and the origin when a value is invalid', async () => {
    await assert.rejects(
      load({ '.env': 'REQUIRED_URL=x\n', '.env.local': 'PORT=eighty\n' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.key, 'PORT');
        assert.equal(error.message.includes('\n'), false, 'one line');
        assert.match(
          error.message,
          /PORT must be an integer >= 1, <= 65535 \(got "eighty" from \.env\.local\)/,
        );
        return true;
      },
    );
  });

  it('lists allowed values for enumerations', async () => {
    await assert.rejects(
      load({ '.env': 'REQUIRED_URL=x\n' }, { LOG_LEVEL: 'verbose' }),
      /LOG_LEVEL must be one of debug, info, warn, error \(got "verbose" from environment\)/,
    );
  });

  it('names a missing required key', async () => {
    await assert.rejects(load({}), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.key, 'REQUIRED_URL');
      assert.match(error.message, /^Missing configuration: REQUIRED_URL is required/);
      return true;
    });
  });

  it('names an unreadable NAME_FILE', async () => {
    await assert.rejects(
      load({ '.env': 'REQUIRED_URL=x\n' }, { API_TOKEN_FILE: join(dir, 'absent') }),
      /API_TOKEN_FILE points to .*absent, which cannot be read \(ENOENT; from environment\)/,
    );
  });

  it('redacts secrets and URL passwords when describing the effective config', async () => {
    const { values, origins } = await load(
      { '.env': 'REQUIRED_URL=postgres://app:hunter2@db:5432/users\n' },
      { API_TOKEN: 'tok' },
    );
    const described = describeConfig(schema, values, origins);
    assert.equal(described.API_TOKEN?.value, REDACTED);
    assert.equal(described.REQUIRED_URL?.value, 'postgres://app:REDACTED@db:5432/users');
    assert.equal(JSON.stringify(described).includes('hunter2'), false);
    assert.equal(redactUrlPassword('pglite://./.data'), 'pglite://./.data');
  });

  it('gives the users service a complete default configuration', async () => {
    const { values } = await loadConfig(usersConfigSchema, [environmentSource({})]);
    assert.equal(values.PORT, 8080);
    assert.equal(values.DATABASE_URL, 'pglite://./.data/pglite');
    assert.equal(values.SERVICE_NAME, 'user-service');
  });
});
