import { type Kysely, type Migration, Migrator } from 'kysely';
import type { Logger } from 'pino';

/**
 * Runs the service's migrations to the latest version. Migrations are imported as code, not read from a folder,
 * so they travel inside the production bundle. Kysely takes a lock table, so replicas starting together are safe.
 */
export async function migrateToLatest(
  db: Kysely<unknown>,
  migrations: Record<string, Migration>,
  logger: Logger,
): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error, results } = await migrator.migrateToLatest();
  for (const result of results ?? []) {
    const entry = { migration: result.migrationName, status: result.status };
    if (result.status === 'Error') logger.error(entry, 'migration failed');
    else logger.info(entry, 'migration applied');
  }
  if (error) throw error;
}
