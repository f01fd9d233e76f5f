import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type pg from 'pg';
import { preparedStatementsPool } from '../../src/platform/database/prepared-statements.ts';

/** What node-postgres was asked to run: the text form (text, values) or the config form ({ name, text, values }). */
type Sent = { name?: string; text: string; values?: unknown[] };

function fakePool(): { pool: pg.Pool; sent: Sent[]; released: (boolean | undefined)[] } {
  const sent: Sent[] = [];
  const released: (boolean | undefined)[] = [];
  const client = {
    query(textOrConfig: string | Sent, values?: unknown[]) {
      sent.push(
        typeof textOrConfig === 'string'
          ? { text: textOrConfig, ...(values === undefined ? {} : { values }) }
          : textOrConfig,
      );
      return Promise.resolve({ rows: [], rowCount: 0 });
    },
    release(destroy?: boolean) {
      released.push(destroy);
    },
  };
  const pool = { connect: () => Promise.resolve(client), end: () => Promise.resolve() };
  return { pool: pool as unknown as pg.Pool, sent, released };
}

describe('preparedStatementsPool', () => {
  it('names a read with parameters, the same name for the same text on every connection', async () => {
    const { pool, sent } = fakePool();
    const named = preparedStatementsPool(pool);
    const first = await named.connect();
    await first.query('select a from t where id = $1', [1]);
    await first.query('select a from t where id = $1', [2]);
    await first.query('SELECT b FROM t WHERE id > $1', [0]);
    const second = await named.connect();
    await second.query('select a from t where id = $1', [3]);
    assert.deepEqual(sent, [
      { name: 'p1', text: 'select a from t where id = $1', values: [1] },
      { name: 'p1', text: 'select a from t where id = $1', values: [2] },
      { name: 'p2', text: 'SELECT b FROM t WHERE id > $1', values: [0] },
      { name: 'p1', text: 'select a from t where id = $1', values: [3] },
    ]);
  });

  it('leaves writes unnamed', async () => {
    const { pool, sent } = fakePool();
    const client = await preparedStatementsPool(pool).connect();
    await client.query('insert into t (a) values ($1) returning a', ['x']);
    await client.query('update t set a = $1 where id = $2', ['y', 1]);
    assert.deepEqual(
      sent.map((s) => s.name),
      [undefined, undefined],
    );
  });

  it('leaves statements without parameters on the simple protocol, which allows several commands', async () => {
    const { pool, sent } = fakePool();
    const client = await preparedStatementsPool(pool).connect();
    await client.query('select 1; select 2', []);
    assert.deepEqual(sent, [{ text: 'select 1; select 2', values: [] }]);
  });

  it('runs texts beyond its bound unnamed, so varying texts cannot fill the server with statements', async () => {
    const { pool, sent } = fakePool();
    const client = await preparedStatementsPool(pool, 2).connect();
    for (const n of [1, 2, 3, 1]) await client.query(`select ${n} where $1`, [true]);
    assert.deepEqual(
      sent.map((s) => s.name),
      ['p1', 'p2', undefined, 'p1'],
    );
  });

  it('hands release (and a request to destroy the connection) to the pool client', async () => {
    const { pool, released } = fakePool();
    const client = await preparedStatementsPool(pool).connect();
    client.release();
    (client.release as (destroy?: boolean) => void)(true);
    assert.deepEqual(released, [undefined, true]);
  });
});
