import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import { withClientQueries } from './pool-client-queries.ts';

/** Distinct statement texts a pool names; texts beyond it run unnamed. */
export const MAX_NAMED_STATEMENTS = 256;

const READ = /^\s*select\b/i;

/**
 * Sends every read (SELECT) that has parameters as a named prepared statement. PostgreSQL then parses and plans
 * it once per connection instead of at every execution, and node-postgres leaves out the Parse message after the
 * first use on a connection: GET /users/{id} on PostgreSQL serves about a quarter more requests a second on two
 * cores shared with the database (docs/performance.md). Writes stay unnamed: named INSERTs measured no
 * faster (planning is a small part of a write's cost), so they are not worth a statement per connection.
 *
 * Statements without parameters keep the simple protocol, which allows several commands in one text
 * (migrations). Names are given per distinct text, at most `maxNamed` per pool; further texts run unnamed, so
 * statements whose text varies (an IN list of any length) cannot fill the server's memory with prepared
 * statements. A prepared statement that selects `*` fails once a migration changes the table's columns
 * ("cached plan must not change result type"): statements name their columns.
 */
export function preparedStatementsPool(pool: pg.Pool, maxNamed: number = MAX_NAMED_STATEMENTS): PostgresPool {
  const names = new Map<string, string>();
  const nameOf = (text: string): string | undefined => {
    let name = names.get(text);
    if (name === undefined && names.size < maxNamed) {
      name = `p${names.size + 1}`;
      names.set(text, name);
    }
    return name;
  };
  // Kysely's query type also has a cursor form (streamed results), which passes through unnamed.
  return withClientQueries(
    pool,
    (client: pg.PoolClient) =>
      ((text: unknown, values?: unknown[]) => {
        const name =
          typeof text === 'string' && values !== undefined && values.length > 0 && READ.test(text)
            ? nameOf(text)
            : undefined;
        if (name === undefined) return client.query(text as string, values);
        return client.query({ name, text: text as string, values });
      }) as unknown as PostgresPoolClient['query'],
  );
}
