import { startService } from '../../platform/service/start-service.ts';
import { relayConfigSchema } from './config.ts';

/**
 * Entry point: the composition root is imported only once tracing has started (see startService); outgoing calls
 * to WeChat Work, the SMS gateway and the API server are traced through fetch.
 */
startService({
  name: 'alert-relay',
  schema: relayConfigSchema,
  run: async (start) => (await import('./composition-root.ts')).runRelayService(start),
});
