import type { PGlite } from '@electric-sql/pglite';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import { PGliteStatements } from './pglite-statements.ts';

/**
 * Presents one embedded PGlite database as the pool Kysely's PostgresDialect expects, so PostgreSQL and PGlite
 * share one dialect, one set of queries and one set of migrations. PGlite is a single connection: a lease
 * holds it exclusively until released, which keeps transactions from interleaving. Callers are served in the
 * order they asked. Statements run as prepared statements (see pglite-statements.ts), which the lease makes
 * safe: PGlite's wire-protocol entry point has no lock of its own.
 */
export class PGlitePool implements PostgresPool {
  readonly #db: PGlite;
  readonly #statements: PGliteStatements;
  readonly #queue: (() => void)[] = [];
  #leased = false;
  #ended: Promise<void> | undefined;
  /** One client for every lease: Kysely keeps a connection object per client, so a new one per lease is waste. */
  readonly #client: PostgresPoolClient;

  constructor(db: PGlite) {
    this.#db = db;
    this.#statements = new PGliteStatements(db);
    const statements = this.#statements;
    this.#client = {
      query: <R>(sql: string, parameters: readonly unknown[]): Promise<PostgresQueryResult<R>> =>
        statements.run<R>(sql, parameters),
      release: () => this.#release(),
    } as unknown as PostgresPoolClient;
  }

  /** Callers queued for the connection. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** 1 while a caller holds the connection, else 0. */
  get leased(): number {
    return this.#leased ? 1 : 0;
  }

  connect(): Promise<PostgresPoolClient> {
    if (!this.#leased && this.#queue.length === 0) {
      this.#leased = true;
      return Promise.resolve(this.#client);
    }
    return new Promise((resolve) => {
      this.#queue.push(() => resolve(this.#client));
    });
  }

  /** A release without a lease (a second release by the same caller) is ignored. */
  #release(): void {
    if (!this.#leased) return;
    const next = this.#queue.shift();
    if (next === undefined) this.#leased = false;
    else next();
  }

  /**
   * Closes the database once, after the callers queued so far; Kysely only ends a pool it has used. Callers
   * after that get PGlite's own error for a closed database.
   */
  end(): Promise<void> {
    this.#ended ??= this.#closeWhenLeased();
    return this.#ended;
  }

  async #closeWhenLeased(): Promise<void> {
    await this.connect();
    try {
      await this.#db.close();
    } finally {
      this.#release();
    }
  }
}
