import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/**
 * Runs a service until it says it is ready, then stops it, so that Node writes the V8 code of everything start-up
 * compiled into NODE_COMPILE_CACHE (it does so at exit). Run at image build time with the runtime's own Node binary
 * and NODE_OPTIONS: the cache is only used by the exact same Node and V8 flags. Usage:
 * warm-compile-cache.ts ENTRY [DATABASE_URL]. Without a database the in-memory repository starts (the image's
 * build has none); scripts/dev-compile-cache.sh gives an embedded one, so the database code is compiled too.
 */
const [entry, databaseUrl] = process.argv.slice(2);
if (!entry || !process.env.NODE_COMPILE_CACHE) {
  console.error('usage: NODE_COMPILE_CACHE=DIR node warm-compile-cache.ts ENTRY [DATABASE_URL]');
  process.exit(2);
}
const READY_TIMEOUT_MS = 60_000;

const child = spawn(process.execPath, [entry], {
  // No collector; without a database the in-memory repository: start-up compiles the same modules but the database's.
  env: {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: '0',
    ...(databaseUrl
      ? { DATABASE_URL: databaseUrl }
      : { DATABASE_URL: 'memory://', MIGRATE_ON_START: 'false' }),
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const exited = once(child, 'exit');
// A service that cannot start without its deployment's configuration still gets an image, only without the cache.
const timeout = setTimeout(() => {
  console.error(`warm-up: ${entry} was not ready within ${READY_TIMEOUT_MS} ms; no compile cache`);
  child.kill('SIGKILL');
  process.exit(0);
}, READY_TIMEOUT_MS);

for await (const line of createInterface({ input: child.stdout })) {
  if (line.includes('"ready to serve"')) {
    child.kill('SIGTERM');
    break;
  }
}
const [code] = await exited;
clearTimeout(timeout);
if (code !== 0) {
  console.error(`warm-up: ${entry} exited with ${code}; the compile cache may be incomplete`);
  process.exit(0);
}
console.log(`warm-up: compile cache written to ${process.env.NODE_COMPILE_CACHE}`);
