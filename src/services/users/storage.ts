import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Database } from '../../platform/database/database.ts';
import { MemoryUsersRepository } from './memory-users.repository.ts';
import type { UsersDatabase } from './pg-users.repository.ts';
import type { UsersRepository } from './users.repository.ts';

export interface StorageConfig {
  DATABASE_URL: string;
  DATABASE_PASSWORD?: string | undefined;
  DB_POOL_MAX: number;
  DB_PREPARED_STATEMENTS: boolean;
  DB_CONNECT_TIMEOUT_MS: number;
  DB_STATEMENT_TIMEOUT_MS: number;
  SERVICE_NAME: string;
}

export interface UsersStorage {
  repository: UsersRepository;
  /** Absent for the in-memory repository, which has nothing to ping or close. */
  database?: Database<UsersDatabase>;
}

export interface StorageOptions {
  /** The service's registry, where the pool's states are reported. */
  metrics?: Registry;
  /**
   * The current DATABASE_PASSWORD, read whenever the pool opens a connection: a rotated secret is picked up by
   * new connections without a restart. Without it the start-up password is fixed for the process lifetime.
   */
  password?: () => string | undefined;
}

export async function openUsersStorage(
  config: StorageConfig,
  logger: Logger,
  options: StorageOptions = {},
): Promise<UsersStorage> {
  if (config.DATABASE_URL.startsWith('memory://')) return { repository: new MemoryUsersRepository() };
  // Kysely, pg and the SQL repository load only for a database: the in-memory repository starts without them.
  const [{ openDatabase }, { PgUsersRepository }] = await Promise.all([
    import('../../platform/database/database.ts'),
    import('./pg-users.repository.ts'),
  ]);
  const livePassword = options.password;
  const urlPassword = passwordIn(config.DATABASE_URL);
  const database = await openDatabase<UsersDatabase>({
    url: withPassword(config.DATABASE_URL, config.DATABASE_PASSWORD),
    ...(livePassword ? { password: () => livePassword() ?? urlPassword ?? '' } : {}),
    logger,
    poolMax: config.DB_POOL_MAX,
    preparedStatements: config.DB_PREPARED_STATEMENTS,
    connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    applicationName: config.SERVICE_NAME,
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  return { repository: new PgUsersRepository(database.db), database };
}

export async function migrateUsers(database: Database<UsersDatabase>, logger: Logger): Promise<void> {
  const [{ migrateToLatest }, { usersMigrations }] = await Promise.all([
    import('../../platform/database/migrations.ts'),
    import('./migrations/index.ts'),
  ]);
  await migrateToLatest(database.db as never, usersMigrations, logger);
}

function passwordIn(url: string): string | undefined {
  if (!/^postgres(ql)?:\/\//i.test(url)) return undefined;
  const { password } = new URL(url);
  return password === '' ? undefined : decodeURIComponent(password);
}

/** A password given separately (often from a mounted secret file) replaces the one in the URL. */
export function withPassword(url: string, password: string | undefined): string {
  if (password === undefined || !/^postgres(ql)?:\/\//i.test(url)) return url;
  const parsed = new URL(url);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}
