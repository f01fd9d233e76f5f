import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdtemp, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import {
  holdsDatabase,
  installedPGliteVersion,
  readTemplate,
  templateFile,
  unpackTemplate,
} from '../../src/platform/database/pglite-template.ts';
import { migrateUsers, openUsersStorage, type StorageConfig } from '../../src/services/users/storage.ts';

const logger = pino({ level: 'silent' });
const directories: string[] = [];
after(() => Promise.all(directories.map((d) => rm(d, { recursive: true, force: true }))));

async function newDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'pglite-storage-'));
  directories.push(directory);
  return directory;
}

function config(directory: string): StorageConfig {
  return {
    DATABASE_URL: `pglite://${directory}`,
    DB_POOL_MAX: 10,
    DB_PREPARED_STATEMENTS: true,
    DB_CONNECT_TIMEOUT_MS: 5_000,
    DB_STATEMENT_TIMEOUT_MS: 5_000,
    SERVICE_NAME: 'user-service',
  };
}

describe('embedded PGlite storage', () => {
  it('has an initdb image for the installed PGlite (regenerate: node scripts/pglite-template.ts)', async () => {
    await access(templateFile(await installedPGliteVersion()));
  });

  it('starts a new directory from the image, with the modes PostgreSQL requires, and leaves an existing database alone', async () => {
    const directory = await newDirectory();
    assert.equal(await holdsDatabase(directory), false);
    const { database } = await openUsersStorage(config(directory), logger);
    assert.ok(database);
    await migrateUsers(database, logger);
    await database.close();
    assert.equal(await holdsDatabase(directory), true);
    // initdb makes the data directory's subdirectories private; PostgreSQL refuses to start on group or world access.
    for (const sub of ['base', 'global', 'pg_wal'])
      assert.equal((await stat(join(directory, sub))).mode & 0o007, 0, sub);
    const versionWritten = (await stat(join(directory, 'PG_VERSION'))).mtimeMs;

    const again = await openUsersStorage(config(directory), logger);
    assert.ok(again.database);
    await again.database.close();
    assert.equal(
      (await stat(join(directory, 'PG_VERSION'))).mtimeMs,
      versionWritten,
      'opened as it was, not unpacked again',
    );
  });

  it('unpacks again over a directory a start left half-written (no PG_VERSION yet)', async () => {
    const directory = await newDirectory();
    const tar = await readTemplate();
    assert.ok(tar, 'an image for the installed PGlite');
    unpackTemplate(tar, directory);
    await rm(join(directory, 'PG_VERSION'));
    await truncate(join(directory, 'global', 'pg_control'), 10);
    const { database, repository } = await openUsersStorage(config(directory), logger);
    assert.ok(database);
    try {
      await migrateUsers(database, logger);
      assert.deepEqual(await repository.list(undefined, 1), []);
    } finally {
      await database.close();
    }
  });

  it('keeps acknowledged writes across a clean restart', async () => {
    const directory = await newDirectory();
    const first = await openUsersStorage(config(directory), logger);
    assert.ok(first.database);
    await migrateUsers(first.database, logger);
    const now = new Date('2026-01-02T03:04:05.678Z');
    const created = await first.repository.create({
      id: '0190a6d2-0000-7000-8000-000000000001',
      name: 'Ada',
      email: 'ada@example.com',
      status: 'active',
      created_at: now,
      updated_at: now,
    });
    await first.database.close();

    const second = await openUsersStorage(config(directory), logger);
    assert.ok(second.database);
    await migrateUsers(second.database, logger);
    try {
      assert.deepEqual(await second.repository.get(created.id), created);
    } finally {
      await second.database.close();
    }
  });

  it('keeps acknowledged writes when the process is killed without closing the database', async () => {
    // Statements run without PGlite's per-statement file-system sync (pglite-statements.ts): on Node the data
    // directory receives PostgreSQL's writes as they are made, so a write acknowledged before a SIGKILL is there
    // after PostgreSQL's crash recovery.
    const directory = await newDirectory();
    const storage = resolve(import.meta.dirname, '../../src/services/users/storage.ts');
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { pino } from 'pino';
const { migrateUsers, openUsersStorage } = await import(${JSON.stringify(storage)});
const logger = pino({ level: 'silent' });
const opened = await openUsersStorage(${JSON.stringify(config(directory))}, logger);
await migrateUsers(opened.database, logger);
const now = new Date('2026-01-02T03:04:05.678Z');
await opened.repository.create({ id: '0190a6d2-0000-7000-8000-000000000002', name: 'Grace',
  email: 'grace@example.com', status: 'active', created_at: now, updated_at: now });
console.log('acknowledged');
setInterval(() => {}, 1000);`,
      ],
      { cwd: resolve(import.meta.dirname, '../..'), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = once(child, 'exit');
    for await (const line of createInterface({ input: child.stdout })) {
      if (line === 'acknowledged') break;
    }
    child.kill('SIGKILL');
    const [, signal] = await exited;
    assert.equal(signal, 'SIGKILL');

    const reopened = await openUsersStorage(config(directory), logger);
    assert.ok(reopened.database);
    try {
      const user = await reopened.repository.get('0190a6d2-0000-7000-8000-000000000002');
      assert.equal(user?.email, 'grace@example.com');
    } finally {
      await reopened.database.close();
    }
  });
});
