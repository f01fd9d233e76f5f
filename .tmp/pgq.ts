import { rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { openPGliteAt } from '../src/platform/database/open-pglite.ts';
rmSync('/tmp/pgq', { recursive: true, force: true });
const db = await openPGliteAt('/tmp/pgq');
await db.exec(`create table users (id uuid primary key, name text not null, email text not null unique, status text not null, created_at timestamptz not null, updated_at timestamptz not null)`);
const ids: string[] = [];
for (let i = 0; i < 200; i++) { const id = randomUUID(); ids.push(id); await db.query('insert into users values ($1,$2,$3,$4,now(),now())', [id, `n${i}`, `e${i}@x`, 'active']); }
const durations: number[] = [];
const slow: [number, number][] = [];
const t0 = performance.now();
for (let i = 0; i < 40000; i++) {
  const t = performance.now();
  await db.query('select * from users where id = $1', [ids[i % ids.length]]);
  const d = performance.now() - t; durations.push(d);
  if (d > 20) slow.push([i, Math.round(d)]);
}
const total = performance.now() - t0;
durations.sort((a, b) => a - b);
const q = (p: number) => durations[Math.floor(p * durations.length)]!.toFixed(3);
console.log({ perSec: Math.round(40000 / total * 1000), p50: q(0.5), p99: q(0.99), p999: q(0.999), max: durations.at(-1)!.toFixed(1), slow: slow.slice(0, 30) });
await db.close();
