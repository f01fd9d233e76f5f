import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { counter, gauge } from '../metrics/metrics-registry.ts';
import { ReconnectDelays } from '../resilience/reconnect-delays.ts';
import type { ConfigLayer, ConfigSource } from './config-source.ts';

/** What a config centre client provides; the loop around it (caching, backoff, resuming) is shared. */
export interface RemoteFollower {
  /** Reads the whole prefix once. */
  fetch(signal: AbortSignal): Promise<ConfigLayer>;
  /**
   * Waits for the next change and resolves with the whole prefix after it (or at once with the current state
   * after a reconnect, so nothing changed while away is missed). Rejects when the server is lost.
   */
  next(signal: AbortSignal): Promise<ConfigLayer>;
  /** Drops connections after a failure, so the next attempt starts clean. */
  reset?(): Promise<void> | void;
  close?(): Promise<void> | void;
}

export interface RemoteSourceOptions {
  name: string;
  logger: Logger;
  /** Where `config_remote_up` and `config_remote_failures_total` are registered. */
  metrics: Registry;
  retryInitialMs: number;
  retryMaxMs: number;
}

const remoteUp = (registry: Registry) =>
  gauge(registry, 'config_remote_up', '1 while the remote config centre is reachable and watched.', [
    'source',
  ]);
const remoteFailures = (registry: Registry) =>
  counter(registry, 'config_remote_failures_total', 'Failed reads or watches of the remote config centre.', [
    'source',
  ]);

/**
 * A config centre as a source. `load` returns the last good layer (the watch loop keeps it current), so reloads
 * never wait on the network and losing the centre never loses configuration: the loop retries with jittered
 * exponential backoff and, once the server answers again, resynchronises and resumes watching.
 * Only the first load (at start-up, before anything is cached) reads the centre directly and may fail.
 */
export function remoteConfigSource(follower: RemoteFollower, options: RemoteSourceOptions): ConfigSource {
  const { logger, name } = options;
  const up = remoteUp(options.metrics);
  const failed = remoteFailures(options.metrics);
  let cached: ConfigLayer | undefined;
  const controller = new AbortController();

  return {
    name,
    async load() {
      if (cached === undefined) {
        cached = await follower.fetch(AbortSignal.any([controller.signal, AbortSignal.timeout(10_000)]));
        up.set({ source: name }, 1);
      }
      return cached;
    },
    watch(onChange) {
      void (async () => {
        let failures = 0;
        const delays = new ReconnectDelays(options.retryInitialMs, options.retryMaxMs);
        while (!controller.signal.aborted) {
          try {
            const layer = await follower.next(controller.signal);
            if (failures > 0) {
              logger.info(
                { source: name, failed_attempts: failures },
                'config centre reachable again; watch resumed',
              );
              up.set({ source: name }, 1);
            }
            failures = 0;
            delays.reset();
            if (!isDeepStrictEqual(layer, cached)) {
              cached = layer;
              onChange();
            }
          } catch (error) {
            if (controller.signal.aborted) break;
            failures += 1;
            failed.inc({ source: name });
            up.set({ source: name }, 0);
            const delayMs = delays.next();
            const fields = {
              source: name,
              attempt: failures,
              retry_in_ms: delayMs,
              reason: (error as Error).message,
            };
            // One WARN per outage, then DEBUG: an hour-long outage should not flood the logs.
            if (failures === 1)
              logger.warn(fields, 'config centre unreachable; keeping the last good configuration');
            else logger.debug(fields, 'config centre still unreachable');
            await follower.reset?.();
            await sleep(delayMs, controller.signal);
          }
        }
      })();
      return () => controller.abort();
    },
    async close() {
      controller.abort();
      await follower.close?.();
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
