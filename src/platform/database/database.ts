import { Kysely, type KyselyPlugin, PostgresDialect, type PostgresPool, sql } from 'kysely';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { DependencyError } from '../errors/app-error.ts';
import { type PoolCounts, reportPool } from '../metrics/db-pool-metrics.ts';
import { tracedPool } from '../tracing/sql-tracing.ts';
import { tracingStarted } from '../tracing/tracing-state.ts';
import { preparedStatementsPool } from './prepared-statements.ts';

export type DatabaseKind = 'postgres' | 'pglite';

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

export interface Database<DB> {
  readonly kind: DatabaseKind;
  readonly db: Kysely<DB>;
  ping(): Promise<void>;
  poolStats(): PoolStats;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** `postgres://…` for PostgreSQL; `pglite://DIR` (or `pglite://memory`) for the embedded database. */
  url: string;
  logger: Logger;
  poolMax: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  applicationName: string;
  /** Where the pool's states are reported (`db_pool_connections`); one-off commands such as migrate have none. */
  metrics?: Registry;
  /**
   * Read each time the pool opens a connection, so a rotated password (a reloaded secret file or Vault version)
   * is used by new connections without a restart; replaces any password in the URL.
   */
  password?: () => string | Promise<string>;
  plugins?: KyselyPlugin[];
  /**
   * PostgreSQL: send reads (SELECT) with parameters as named prepared statements (see prepared-statements.ts). Off
   * behind a pooler that does not keep prepared statements per client (PgBouncer in transaction mode before
   * 1.21). Default on; the embedded database ignores it.
   */
  preparedStatements?: boolean;
}

/** Returns the function that stops reporting. */
function reportPoolIn(registry: Registry | undefined, read: () => PoolCounts): () => void {
  return registry ? reportPool(registry, read) : () => {};
}

export function databaseKind(url: string): DatabaseKind {
  if (/^postgres(ql)?:\/\//i.test(url)) return 'postgres';
  if (/^pglite:\/\//i.test(url)) return 'pglite';
  throw new Error(`unsupported database URL scheme in ${url.split(':')[0]}: use postgres:// or pglite://`);
}

export async function openDatabase<DB>(options: DatabaseOptions): Promise<Database<DB>> {
  return databaseKind(options.url) === 'postgres' ? openPostgres<DB>(options) : openPGlite<DB>(options);
}

async function openPostgres<DB>(options: DatabaseOptions): Promise<Database<DB>> {
  const [{ default: pg }, { parse }] = await Promise.all([import('pg'), import('pg-connection-string')]);
  // node-postgres lets a connection string's fields win over explicit options, so a password function only
  // takes effect when the string is parsed here and passed as fields.
  const connection = options.password
    ? { ...(parse(options.url) as Record<string, unknown>), password: options.password }
    : { connectionString: options.url };
  const pool = new pg.Pool({
    ...connection,
    max: options.poolMax,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs,
    // The client-side bound covers a server that stops answering mid-query, which statement_timeout cannot.
    query_timeout: options.statementTimeoutMs + 1_000,
    application_name: options.applicationName,
  });
  // An idle client losing its server emits here; without a listener that would crash the process.
  pool.on('error', (error) =>
    options.logger.warn({ error }, 'database connection lost; the pool will reconnect'),
  );
  // A checked-out client has no pool listener: if its server goes away between two queries (a restart, a
  // failover) it emits 'error' on its own, which would crash the process. The query in flight, if any, fails
  // on its own and is answered as a dependency error, so this listener only records the event.
  pool.on('connect', (client) => {
    client.on('error', (error) =>
      options.logger.debug({ error }, 'database connection lost while checked out'),
    );
  });
  const target = new URL(options.url);
  const statements: PostgresPool = options.preparedStatements === false ? pool : preparedStatementsPool(pool);
  const queried = tracingStarted()
    ? tracedPool(statements, {
        database: decodeURIComponent(target.pathname.slice(1)) || undefined,
        host: target.hostname || undefined,
        port: Number(target.port || 5432),
      })
    : statements;
  const db = new Kysely<DB>({
    dialect: new PostgresDialect({ pool: queried }),
    plugins: options.plugins ?? [],
  });
  const stopReporting = reportPoolIn(options.metrics, () => ({
    inUse: pool.totalCount - pool.idleCount,
    idle: pool.idleCount,
    waiting: pool.waitingCount,
  }));
  return {
    kind: 'postgres',
    db,
    async ping() {
      await sql`select 1`.execute(db);
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => {
      stopReporting();
      return db.destroy();
    },
  };
}

async function openPGlite<DB>(options: DatabaseOptions): Promise<Database<DB>> {
  const [{ openPGliteAt }, { PGlitePool }] = await Promise.all([
    import('./open-pglite.ts'),
    import('./pglite-pool.ts'),
  ]);
  const location = options.url.replace(/^pglite:\/\//i, '');
  const inMemory = location === '' || location === 'memory';
  const pool = new PGlitePool(await openPGliteAt(inMemory ? undefined : location));
  const queried = tracingStarted() ? tracedPool(pool, { database: inMemory ? 'memory' : location }) : pool;
  const db = new Kysely<DB>({
    dialect: new PostgresDialect({ pool: queried }),
    plugins: options.plugins ?? [],
  });
  // One embedded connection: in use while leased, idle otherwise; callers queue on its mutex.
  const stopReporting = reportPoolIn(options.metrics, () => ({
    inUse: pool.leased,
    idle: 1 - pool.leased,
    waiting: pool.waiting,
  }));
  return {
    kind: 'pglite',
    db,
    async ping() {
      await sql`select 1`.execute(db);
    },
    poolStats: () => ({ total: 1, idle: 1 - pool.leased, waiting: pool.waiting }),
    close: async () => {
      stopReporting();
      await db.destroy();
      await pool.end();
    },
  };
}

/** Connection-level failures (server gone, refused, timed out) are dependency errors, not bugs. */
export function isConnectionFailure(error: unknown): boolean {
  const code = (error as { code?: string })?.code ?? '';
  const message = (error as Error)?.message ?? '';
  return (
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      'ENOTFOUND',
      '57P01',
      '57P03',
      '08006',
      '08001',
      '08003',
    ].includes(code) ||
    /timeout exceeded when trying to connect|Connection terminated|Query read timeout|connection timeout/i.test(
      message,
    )
  );
}

/** Wraps a repository call so losing the database surfaces as a 503 problem instead of a 500. */
export async function withDatabase<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (isConnectionFailure(error) || (error as { code?: string })?.code === '57014') {
      throw new DependencyError('database', { cause: error });
    }
    throw error;
  }
}
