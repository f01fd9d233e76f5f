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
      const onUncaught = (error: unknown) => crashes.push(error);
      process.on('uncaughtException', onUncaught);
      try {
        await database.db.connection().execute(async (connection) => {
          const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(connection);
          await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
          // The loss reaches the client as a socket event the test cannot subscribe to; its log line shows it.
          const deadline = Date.now() + 5_000;
          while (!logs.find((line) => line.message === 'database connection lost while checked out')) {
            if (crashes.length > 0 || Date.now() > deadline) break;
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
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
