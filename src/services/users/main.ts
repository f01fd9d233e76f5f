import { startService } from '../../platform/service/start-service.ts';
import { usersConfigSchema } from './config.ts';

/** Entry point: the composition root is imported only once tracing has started (see startService). */
startService({
  name: 'user-service',
  schema: usersConfigSchema,
  run: async (start) => (await import('./composition-root.ts')).runUsersService(start),
});
