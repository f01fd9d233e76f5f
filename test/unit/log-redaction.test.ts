import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/platform/logging/logger.ts';
import { LogCapture } from '../support/log-capture.ts';

function capture() {
  const logs = new LogCapture();
  const { logger } = createLogger({ service: 's', version: 'v', level: 'info', destination: logs });
  return { logs, logger };
}

describe('log redaction', () => {
  it('censors secrets up to three levels deep, in headers, arrays and error fields, and leaves the object logged untouched', () => {
    const { logs, logger } = capture();
    const fields = {
      DATABASE_PASSWORD: 'top-db',
      headers: { 'set-cookie': 'sc-1', 'x-vault-token': 'vt-1', accept: 'json' },
      request: { headers: { 'set-cookie': 'sc-2', 'x-vault-token': 'vt-2' } },
      items: [{ token: 'arr-tok' }],
      a: { b: { secret: 'lvl3' } },
    };
    logger.info(fields, 'secrets');
    class VaultLikeError extends Error {
      readonly token = 'err-tok';
    }
    logger.error(new VaultLikeError('boom'), 'failed');
    logger.child({ token: 'child-tok', trace_id: 't1' }).info('child');
    const raw = logs.raw.join('\n');
    for (const secret of [
      'top-db',
      'sc-1',
      'vt-1',
      'sc-2',
      'vt-2',
      'arr-tok',
      'lvl3',
      'err-tok',
      'child-tok',
    ]) {
      assert.equal(raw.includes(secret), false, `${secret} leaked`);
    }
    assert.equal((logs.lines[0]!.headers as { accept: string }).accept, 'json');
    assert.equal(fields.headers['set-cookie'], 'sc-1', 'the caller’s object is not modified');
    const error = logs.lines[1]!.error as { type: string; message: string; stack: string };
    assert.equal(error.type, 'VaultLikeError');
    assert.equal(error.message, 'boom');
    assert.match(error.stack, /boom/);
    assert.equal(logs.lines[2]!.trace_id, 't1');
  });

  it('reports an error class renamed by the bundler (a numeric suffix) under its own name', () => {
    const { logs, logger } = capture();
    class DatabaseError2 extends Error {}
    logger.warn({ error: new DatabaseError2('x') }, 'query failed');
    assert.equal((logs.lines[0]!.error as { type: string }).type, 'DatabaseError');
  });
});
