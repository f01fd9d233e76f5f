import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../src/platform/logging/logger.ts';

const LOGGER_MODULE = fileURLToPath(new URL('../../src/platform/logging/logger.ts', import.meta.url));

/** A Node process that logs through createLogger's stdout destination; `body` runs with `logger` and `flush`. */
function loggingProcess(body: string) {
  const script = `import { createLogger } from ${JSON.stringify(LOGGER_MODULE)};
const { logger, flush } = createLogger({ service: 'svc', version: 't', level: 'info' });
${body}`;
  return spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

describe('log output', () => {
  it('stamps each line with the current millisecond in ISO 8601 UTC', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.parse('2026-01-02T03:04:05.006Z') });
    const lines: string[] = [];
    const { logger } = createLogger({
      service: 'svc',
      version: 't',
      level: 'info',
      destination: { write: (line: string) => lines.push(line) },
    });
    logger.info('first');
    logger.info('second, same millisecond');
    t.mock.timers.tick(1);
    logger.info('third');
    t.mock.timers.tick(60_000);
    logger.info('fourth');
    const stamps = lines.map((line) => (JSON.parse(line) as { timestamp: string }).timestamp);
    assert.deepEqual(stamps, [
      '2026-01-02T03:04:05.006Z',
      '2026-01-02T03:04:05.006Z',
      '2026-01-02T03:04:05.007Z',
      '2026-01-02T03:05:05.007Z',
    ]);
  });

  it('writes every line to stdout, whole and in order, when lines are flushed at exit', async () => {
    const child = loggingProcess(
      `for (let i = 0; i < 5000; i++) logger.info({ i, pad: 'x'.repeat(i % 300) }, 'line');
flush();
process.exit(0);`,
    );
    const seen: number[] = [];
    for await (const line of createInterface({ input: child.stdout })) {
      seen.push((JSON.parse(line) as { i: number }).i);
    }
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    assert.equal(seen.length, 5000);
    assert.ok(
      seen.every((value, index) => value === index),
      'lines in the order they were logged',
    );
  });

  it('writes out a lone line of a quiet process without waiting for more lines or the exit', async () => {
    const child = loggingProcess(`logger.warn('alone'); setInterval(() => {}, 60_000);`);
    try {
      const lines = createInterface({ input: child.stdout });
      const [line] = (await once(lines, 'line')) as [string];
      assert.equal((JSON.parse(line) as { message: string }).message, 'alone');
    } finally {
      child.kill();
    }
  });
});
