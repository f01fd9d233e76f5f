import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { openDatabase } from '../../src/platform/database/database.ts';
import { createLogger } from '../../src/platform/logging/logger.ts';
import { LogCapture } from '../support/log-capture.ts';
import { needs, TEST_DATABASE_URL } from '../support/requirements.ts';

describe('PostgreSQL connection lost while checked out', { skip: needs('postgres') }, () => {
  it('does not crash the process; the next query runs on a new connection', async () => {
    const logs = new LogCapture();
    const { logger } = createLogger({ service: 'test', version: 'test', level: 'debug', destination: logs });
    const database = await openDatabase({
      url: TEST_DATABASE_URL!,
      logger,
      poolMax: 2,
      connectTimeoutMs: 2_000,
      statementTimeoutMs: 2_000,
      applicationName: 'connection-loss-test',
    });
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    try {
      // Between two statements on a held connection its server process is terminated, as a restart or a
      // failover would; node-postgres then emits 'error' on a client the pool does not watch.
      const crashes: unknown[] = [];
      const crashed = new AbortController();
      const onUncaught = (error: unknown) => {
        crashes.push(error);
        crashed.abort(error);
      };
      process.on('uncaughtException', onUncaught);
      try {
        await database.db.connection().execute(async (connection) => {
          const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(connection);
          await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
          // The loss reaches the client as a socket event the test cannot subscribe to; its log line shows it.
          // A crash or 5 s end the wait too: the assertions below then tell what happened.
          await logs
            .waitForLine(
              (line) => line.message === 'database connection lost while checked out',
              AbortSignal.any([crashed.signal, AbortSignal.timeout(5_000)]),
            )
            .catch(() => undefined);
          await assert.rejects(sql`select 1`.execute(connection));
        });
      } finally {
        process.off('uncaughtException', onUncaught);
      }
      assert.deepEqual(crashes, []);
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(database.db);
      assert.equal(rows[0]?.one, 1);
    } finally {
      await admin.end();
      await database.close();
    }
  });
});
