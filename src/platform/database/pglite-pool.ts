import type { PGlite } from '@electric-sql/pglite';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';

/**
 * Presents one embedded PGlite database as the pool Kysely's PostgresDialect expects, so PostgreSQL and PGlite
 * share one dialect, one set of queries and one set of migrations. PGlite is a single connection: a lease
 * holds it exclusively until released, which keeps transactions from interleaving.
 */
export class PGlitePool implements PostgresPool {
  readonly #db: PGlite;
  #tail: Promise<void> = Promise.resolve();
  #waiting = 0;
  #leased = 0;
  #ended: Promise<void> | undefined;

  constructor(db: PGlite) {
    this.#db = db;
  }

  /** Callers queued for the connection. */
  get waiting(): number {
    return this.#waiting;
  }

  /** 1 while a caller holds the connection, else 0. */
  get leased(): number {
    return this.#leased;
  }

  async connect(): Promise<PostgresPoolClient> {
    let release!: () => void;
    const leased = new Promise<void>((resolve) => {
      release = resolve;
    });
    const previous = this.#tail;
    this.#tail = previous.then(() => leased);
    this.#waiting += 1;
    await previous;
    this.#waiting -= 1;
    this.#leased += 1;
    const db = this.#db;
    const pool = this;
    let released = false;
    const client = {
      async query<R>(sql: string, parameters: readonly unknown[]): Promise<PostgresQueryResult<R>> {
        const result = await db.query<R>(sql, parameters as unknown[]);
        return {
          command: commandOf(sql),
          rowCount: result.affectedRows ?? result.rows.length,
          rows: result.rows,
        };
      },
      release() {
        if (released) return;
        released = true;
        pool.#leased -= 1;
        release();
      },
    };
    return client as unknown as PostgresPoolClient;
  }

  /** Closes the database once, after the callers queued so far; Kysely only ends a pool it has used. */
  end(): Promise<void> {
    this.#ended ??= this.#tail.then(() => this.#db.close());
    return this.#ended;
  }
}

function commandOf(sql: string): PostgresQueryResult<unknown>['command'] {
  const word = /^\s*(?:with\b[\s\S]*?\)\s*)?(\w+)/i.exec(sql)?.[1]?.toUpperCase();
  switch (word) {
    case 'INSERT':
    case 'UPDATE':
    case 'DELETE':
    case 'MERGE':
      return word;
    default:
      return 'SELECT';
  }
}
