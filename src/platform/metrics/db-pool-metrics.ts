import { Gauge, register } from 'prom-client';

export interface PoolCounts {
  inUse: number;
  idle: number;
  waiting: number;
}

const pools = new Set<() => PoolCounts>();

if (!register.getSingleMetric('db_pool_connections')) {
  new Gauge({
    name: 'db_pool_connections',
    help: 'Database pool connections by state: in_use (leased), idle (open, free), waiting (callers queued for one).',
    labelNames: ['state'],
    collect() {
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
  });
}

/** Reports a pool in `db_pool_connections`, read at scrape time; returns the function that stops reporting it. */
export function reportPool(read: () => PoolCounts): () => void {
  pools.add(read);
  return () => pools.delete(read);
}
