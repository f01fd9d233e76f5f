import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { openDatabase } from '../../src/platform/database/database.ts';
import { createLogger } from '../../src/platform/logging/logger.ts';
import { PgUsersRepository, type UsersDatabase } from '../../src/services/users/pg-users.repository.ts';
import { migrateUsers } from '../../src/services/users/storage.ts';
import { LogCapture } from '../support/log-capture.ts';
import { needs, TEST_DATABASE_URL } from '../support/requirements.ts';

const { logger } = createLogger({
  service: 'test',
  version: 'test',
  level: 'warn',
  destination: new LogCapture(),
});

/** One connection, so the statements prepared by the repository are visible to the next query on the pool. */
async function openOneConnection(url: string, preparedStatements: boolean) {
  const database = await openDatabase<UsersDatabase>({
    url,
    logger,
    poolMax: 1,
    connectTimeoutMs: 2_000,
    statementTimeoutMs: 5_000,
    applicationName: 'prepared-statements-test',
    preparedStatements,
  });
  return { database, repository: new PgUsersRepository(database.db) };
}

async function preparedOnSession(database: { db: import('kysely').Kysely<UsersDatabase> }) {
  const { rows } = await sql<{ name: string; statement: string }>`
    select name, statement from pg_prepared_statements order by name`.execute(database.db);
  return rows;
}

describe('named prepared statements on PostgreSQL', { skip: needs('postgres') }, () => {
  const name = `prepared_statements_${process.pid}`;
  let admin: pg.Client;
  let url: string;

  before(async () => {
    admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`drop database if exists ${name}`);
    await admin.query(`create database ${name}`);
    const target = new URL(TEST_DATABASE_URL!);
    target.pathname = `/${name}`;
    url = target.toString();
    const { database } = await openOneConnection(url, false);
    try {
      await migrateUsers(database, logger);
    } finally {
      await database.close();
    }
  });

  after(async () => {
    await admin?.query(`drop database if exists ${name} with (force)`);
    await admin?.end();
  });

  const user = (n: number) => {
    const now = new Date();
    return {
      id: `0190a0b0-0000-7000-8000-${String(n).padStart(12, '0')}`,
      name: `User ${n}`,
      email: `user${n}@example.com`,
      status: 'active' as const,
      created_at: now,
      updated_at: now,
    };
  };

  it('prepares a read once per connection and answers every read from it', async () => {
    const { database, repository } = await openOneConnection(url, true);
    try {
      const created = await repository.create(user(1));
      assert.equal((await repository.get(created.id))?.email, 'user1@example.com');
      assert.equal((await repository.get(created.id))?.name, 'User 1');
      assert.equal(await repository.get(user(2).id), undefined);
      const prepared = await preparedOnSession(database);
      const reads = prepared.filter((row) => /^select .* from "users" where "id" = \$1$/.test(row.statement));
      assert.equal(reads.length, 1, JSON.stringify(prepared));
      assert.match(reads[0]!.name, /^p\d+$/);
      assert.ok(!prepared.some((row) => row.statement.startsWith('insert')), JSON.stringify(prepared));
    } finally {
      await database.close();
    }
  });

  it('prepares nothing when turned off', async () => {
    const { database, repository } = await openOneConnection(url, false);
    try {
      const created = await repository.create(user(3));
      assert.equal((await repository.get(created.id))?.email, 'user3@example.com');
      assert.deepEqual(await preparedOnSession(database), []);
    } finally {
      await database.close();
    }
  });

  it('still reads an idempotency record after a migration adds a column to its table', async () => {
    const { database, repository } = await openOneConnection(url, true);
    try {
      await repository.create(user(4), {
        key: 'key-4',
        requestHash: 'hash-4',
        responseStatus: 201,
        responseBody: { id: user(4).id },
      });
      const notBefore = new Date(Date.now() - 60_000);
      const before = await repository.findIdempotencyRecord('key-4', notBefore);
      assert.equal(before?.requestHash, 'hash-4');
      // A later release's migration, run by another process while this connection holds the prepared read.
      const migrator = new pg.Client({ connectionString: url });
      await migrator.connect();
      await migrator.query('alter table idempotency_keys add column note text').finally(() => migrator.end());
      // A prepared `select *` would now fail with "cached plan must not change result type".
      assert.deepEqual(await repository.findIdempotencyRecord('key-4', notBefore), before);
    } finally {
      await database.close();
    }
  });
});
