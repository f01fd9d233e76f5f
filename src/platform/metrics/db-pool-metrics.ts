import type { Registry } from 'prom-client';
import { gauge } from './metrics-registry.ts';

export interface PoolCounts {
  inUse: number;
  idle: number;
  waiting: number;
}

/** The pools reported in each registry; the gauge sums them at scrape time. */
const poolsOf = new WeakMap<Registry, Set<() => PoolCounts>>();

function poolsReportedIn(registry: Registry): Set<() => PoolCounts> {
  const known = poolsOf.get(registry);
  if (known) return known;
  const pools = new Set<() => PoolCounts>();
  poolsOf.set(registry, pools);
  gauge(
    registry,
    'db_pool_connections',
    'Database pool connections by state: in_use (leased), idle (open, free), waiting (callers queued for one).',
    ['state'],
    function collect() {
      let inUse = 0;
      let idle = 0;
      let waiting = 0;
      for (const read of pools) {
        const counts = read();
        inUse += counts.inUse;
        idle += counts.idle;
        waiting += counts.waiting;
      }
      this.set({ state: 'in_use' }, inUse);
      this.set({ state: 'idle' }, idle);
      this.set({ state: 'waiting' }, waiting);
    },
  );
  return pools;
}

/** Reports a pool in `db_pool_connections`, read at scrape time; returns the function that stops reporting it. */
export function reportPool(registry: Registry, read: () => PoolCounts): () => void {
  const pools = poolsReportedIn(registry);
  pools.add(read);
  return () => pools.delete(read);
}
