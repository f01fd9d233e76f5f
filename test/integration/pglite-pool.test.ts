import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PGlite } from '@electric-sql/pglite';
import { openPGliteAt } from '../../src/platform/database/open-pglite.ts';
import { PGlitePool } from '../../src/platform/database/pglite-pool.ts';

describe('PGlite pool: statements as Kysely runs them', () => {
  let db: PGlite;
  let pool: PGlitePool;

  before(async () => {
    db = await openPGliteAt(undefined);
    pool = new PGlitePool(db);
    const client = await pool.connect();
    await client.query(
      'create table items (id int primary key, name text not null, at timestamptz, doc jsonb, n int8)',
      [],
    );
    client.release();
  });
  after(() => pool.end());

  async function query(sql: string, parameters: unknown[] = []) {
    const client = await pool.connect();
    try {
      return await client.query<Record<string, unknown>>(sql, parameters);
    } finally {
      client.release();
    }
  }

  it('round-trips values through the column types, nulls included, and counts what it changed', async () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    const inserted = await query(
      'insert into items (id, name, at, doc, n) values ($1, $2, $3, $4, $5), ($6, $7, $8, $9, $10) returning *',
      [1, 'one', at, JSON.stringify({ a: [1, 'x'] }), 42, 2, 'two', null, null, undefined],
    );
    assert.equal(inserted.command, 'INSERT');
    assert.equal(inserted.rowCount, 2);
    assert.deepEqual(inserted.rows, [
      { id: 1, name: 'one', at, doc: { a: [1, 'x'] }, n: 42 },
      { id: 2, name: 'two', at: null, doc: null, n: null },
    ]);
    const updated = await query('update items set name = $1 where id > $2', ['renamed', 0]);
    assert.equal(updated.command, 'UPDATE');
    assert.equal(updated.rowCount, 2);
    assert.deepEqual(updated.rows, []);
    const selected = await query('select id, name from items where id = $1', [2]);
    assert.deepEqual(selected.rows, [{ id: 2, name: 'renamed' }]);
    // The same text again runs the prepared statement with new values.
    assert.deepEqual((await query('select id, name from items where id = $1', [1])).rows, [
      { id: 1, name: 'renamed' },
    ]);
  });

  it('keeps PostgreSQL error codes and constraint names, and the connection usable after an error', async () => {
    await query('insert into items (id, name) values ($1, $2)', [10, 'ten']);
    await assert.rejects(query('insert into items (id, name) values ($1, $2)', [10, 'again']), {
      code: '23505',
      constraint: 'items_pkey',
    });
    await assert.rejects(query('select id from items where id = $1', ['not a number']), {
      code: '22P02',
    });
    assert.deepEqual((await query('select name from items where id = $1', [10])).rows, [{ name: 'ten' }]);
  });

  it('rolls back a transaction whose statement failed', async () => {
    const client = await pool.connect();
    try {
      await client.query('begin', []);
      await client.query('insert into items (id, name) values ($1, $2)', [20, 'twenty']);
      await assert.rejects(client.query('insert into items (id, name) values ($1, $2)', [20, 'dup']), {
        code: '23505',
      });
      await assert.rejects(client.query('select id from items where id = $1', [20]), { code: '25P02' });
      await client.query('rollback', []);
    } finally {
      client.release();
    }
    assert.deepEqual((await query('select id from items where id = $1', [20])).rows, []);
  });

  it('prepares statements again after a schema change alters what they return', async () => {
    await query('insert into items (id, name) values ($1, $2)', [30, 'thirty']);
    assert.deepEqual((await query('select * from items where id = $1', [30])).rows, [
      { id: 30, name: 'thirty', at: null, doc: null, n: null },
    ]);
    await query('alter table items add column extra text default $$x$$');
    assert.deepEqual((await query('select * from items where id = $1', [30])).rows, [
      { id: 30, name: 'thirty', at: null, doc: null, n: null, extra: 'x' },
    ]);
  });

  it('serves waiting callers in the order they asked, one at a time', async () => {
    const first = await pool.connect();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) =>
      pool.connect().then((client) => {
        order.push(n);
        assert.equal(pool.leased, 1);
        client.release();
      }),
    );
    assert.equal(pool.waiting, 3);
    first.release();
    await Promise.all(waiters);
    assert.deepEqual(order, [1, 2, 3]);
    assert.equal(pool.leased, 0);
    assert.equal(pool.waiting, 0);
  });
});
