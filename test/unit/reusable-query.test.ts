import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CompiledQuery,
  DummyDriver,
  Kysely,
  NoResultError,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
} from 'kysely';
import { reusableQuery } from '../../src/platform/database/reusable-query.ts';

interface Db {
  things: { id: string; name: string; size: number; tag: string | null };
}

const db = new Kysely<Db>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (k) => new PostgresIntrospector(k),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

/** Records what would be sent to the database, answering with no rows. */
function recorder() {
  const sent: CompiledQuery[] = [];
  return {
    sent,
    executeQuery: async <R>(query: CompiledQuery<R>) => {
      sent.push(query);
      return { rows: [] as R[] };
    },
  };
}

describe('reusableQuery', () => {
  it('sends the SQL Kysely compiles, each value in the place its key was compiled', async () => {
    const runner = recorder();
    const insert = reusableQuery(
      runner,
      ['size', 'name', 'id'],
      (row: { id: string; name: string; size: number }) =>
        db.insertInto('things').values(row).returning(['id']),
    );
    await insert.execute({ id: 'a', name: 'Ann', size: 3 });
    await insert.execute({ id: 'b', name: 'Bob', size: 4 });
    const direct = db
      .insertInto('things')
      .values({ size: 4, name: 'Bob', id: 'b' })
      .returning(['id'])
      .compile();
    assert.equal(runner.sent[1]?.sql, direct.sql);
    assert.deepEqual(runner.sent[1]?.parameters, direct.parameters);
    assert.deepEqual(runner.sent[0]?.parameters, [3, 'Ann', 'a']);
    assert.notEqual(runner.sent[0]?.queryId, runner.sent[1]?.queryId, 'each run is a query of its own');
  });

  it('takes the first row, or throws NoResultError with the query node when none comes back', async () => {
    const rows = [{ name: 'Ann' }];
    const runner = {
      executeQuery: async <R>(_query: CompiledQuery<R>) => ({ rows: rows.splice(0) as R[] }),
    };
    const byId = reusableQuery(runner, ['id'], ({ id }: { id: string }) =>
      db.selectFrom('things').select(['name']).where('id', '=', id),
    );
    assert.deepEqual(await byId.executeTakeFirst({ id: 'a' }), { name: 'Ann' });
    assert.equal(await byId.executeTakeFirst({ id: 'a' }), undefined);
    await assert.rejects(
      byId.executeTakeFirstOrThrow({ id: 'a' }),
      (error: unknown) => error instanceof NoResultError && error.node.kind === 'SelectQueryNode',
    );
  });

  it('refuses, when made, a query that adds a parameter of its own', () => {
    assert.throws(
      () =>
        reusableQuery(recorder(), ['id'], ({ id }: { id: string }) =>
          db.selectFrom('things').select(['name']).where('id', '=', id).where('tag', '=', 'fixed'),
        ),
      /a parameter is not one of id/,
    );
  });

  it('refuses, when made, a key the query does not pass as exactly one parameter', () => {
    assert.throws(
      () =>
        reusableQuery(recorder(), ['id', 'name'], ({ id }: { id: string; name: string }) =>
          db.selectFrom('things').select(['name']).where('id', '=', id),
        ),
      /name not passed exactly once/,
    );
    assert.throws(
      () =>
        reusableQuery(recorder(), ['id'], ({ id }: { id: string }) =>
          db.selectFrom('things').select(['name']).where('id', '=', id).where('tag', '=', id),
        ),
      /id not passed exactly once/,
    );
  });
});
