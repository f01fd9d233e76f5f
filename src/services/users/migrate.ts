import { dotenvCascadeSource } from '../../platform/config/dotenv-cascade-source.ts';
import { environmentSource } from '../../platform/config/environment-source.ts';
import { loadConfig } from '../../platform/config/load-config.ts';
import { createLogger } from '../../platform/logging/logger.ts';
import { usersConfigSchema } from './config.ts';
import { migrateUsers, openUsersStorage } from './storage.ts';

/** `npm run migrate`: applies pending migrations to the configured database and exits. */
const { values: config } = await loadConfig(usersConfigSchema, [
  dotenvCascadeSource({ directory: process.cwd(), nodeEnv: process.env.NODE_ENV }),
  environmentSource(),
]);
const { logger, flush } = createLogger({
  service: config.SERVICE_NAME,
  version: config.APP_VERSION,
  level: config.LOG_LEVEL,
});
const { database } = await openUsersStorage(config, logger);
if (!database) {
  logger.info('DATABASE_URL is memory://: nothing to migrate');
} else {
  try {
    await migrateUsers(database, logger);
    logger.info({ storage: database.kind }, 'migrations complete');
  } finally {
    await database.close();
  }
}
flush();
