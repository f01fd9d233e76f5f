import { createServer } from 'node:http';
import { rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { openPGliteAt } from '../src/platform/database/open-pglite.ts';
rmSync('/tmp/pgh', { recursive: true, force: true });
const db = await openPGliteAt('/tmp/pgh');
await db.exec(`create table users (id uuid primary key, name text not null, email text not null unique, status text not null, created_at timestamptz not null, updated_at timestamptz not null)`);
const id = randomUUID();
await db.query('insert into users values ($1,$2,$3,$4,now(),now())', [id, 'n', 'e@x', 'active']);
console.log(id);
let chain: Promise<unknown> = Promise.resolve();
const mode = process.argv[2] ?? 'chain';
createServer((req, res) => {
  const uid = req.url!.split('/').at(-1)!;
  const run = () => db.query('select * from users where id = $1', [uid]);
  const p = mode === 'chain' ? (chain = chain.then(run, run)) : run();
  p.then((r: any) => { const body = JSON.stringify(r.rows[0] ?? null); res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body); });
}).listen(+process.env.PORT!, '127.0.0.1');
