import { createServer } from 'node:http';
import { rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { openPGliteAt } from '../src/platform/database/open-pglite.ts';
rmSync('/tmp/pgh2', { recursive: true, force: true });
const db = await openPGliteAt('/tmp/pgh2');
await db.exec(`create table users (id uuid primary key, name text not null, email text not null unique, status text not null, created_at timestamptz not null, updated_at timestamptz not null)`);
const id = randomUUID();
await db.query('insert into users values ($1,$2,$3,$4,now(),now())', [id, 'n', 'e@x', 'active']);
console.log(id);
const gaps: number[] = []; const service: number[] = [];
const last = new WeakMap<object, number>();
let iterations = 0; setImmediate(function tick() { iterations++; setImmediate(tick); });
const firsts: number[] = []; const conns: number[] = []; let t0 = 0;
const server = createServer((req, res) => {
  if (!last.has(req.socket)) firsts.push(performance.now() - (req.socket as any).acceptedAt);
  const now = performance.now();
  const prev = last.get(req.socket); if (prev !== undefined) gaps.push(now - prev);
  const uid = req.url!.split('/').at(-1)!;
  (process.env.YIELD ? new Promise((r) => setImmediate(r)) : Promise.resolve()).then(() => db.query('select * from users where id = $1', [uid])).then((r: any) => { const body = JSON.stringify(r.rows[0] ?? null); res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body); const end = performance.now(); service.push(end - now); last.set(req.socket, end); });
});
server.on('connection', (socket) => { (socket as any).acceptedAt = performance.now(); if (conns.length === 0) t0 = performance.now(); conns.push(performance.now() - t0); });
server.listen(+process.env.PORT!, '127.0.0.1');
process.on('SIGUSR2', () => {
  const q = (a: number[], p: number) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(p * s.length)]?.toFixed(1); };
  console.log(JSON.stringify({ n: service.length, service: [q(service, 0.5), q(service, 0.99), q(service, 1 - 1e-9)], gap: [q(gaps, 0.5), q(gaps, 0.99), q(gaps, 1 - 1e-9)], iterations, firsts: [q(firsts, 0.5), q(firsts, 1 - 1e-9)], connSpread: conns.length ? conns.at(-1)!.toFixed(1) : 0, conns: conns.length }));
  firsts.length = 0; conns.length = 0;
  gaps.length = 0; service.length = 0; iterations = 0;
});
