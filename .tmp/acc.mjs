import { createServer } from 'node:http';
const conns = []; let t0 = 0;
const spin = +(process.env.SPIN ?? 0);
const server = createServer((req, res) => { const e = performance.now() + spin; while (performance.now() < e); res.end('ok'); });
server.on('connection', () => { if (!conns.length) t0 = performance.now(); conns.push(performance.now() - t0); });
server.listen(+process.env.PORT, '127.0.0.1');
process.on('SIGUSR2', () => { console.log(JSON.stringify({ spread: conns.at(-1)?.toFixed(1), n: conns.length, p: [10,25,40,49].map(i => conns[i]?.toFixed(0)) })); conns.length = 0; });
