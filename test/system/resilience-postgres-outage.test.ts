import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { pollUntil } from '../../scripts/lib/poll-until.ts';
import { needs } from '../support/requirements.ts';
import { type PostgresInstance, startPostgresInstance } from '../support/server-instances.ts';
import { type RunningService, spawnService } from '../support/spawn-service.ts';

interface Outcome {
  status: number;
  ms: number;
  at: number;
  id?: string;
  contentType?: string | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('PostgreSQL stopped under write load', { skip: needs('postgres-binaries') }, () => {
  let postgres: PostgresInstance;
  let service: RunningService;
  let secrets: string;

  before(async () => {
    postgres = await startPostgresInstance();
    secrets = await mkdtemp(join(tmpdir(), 'resilience-secrets-'));
    service = await spawnService({
      env: {
        DATABASE_URL: postgres.url,
        DB_POOL_MAX: '5',
        DB_CONNECT_TIMEOUT_MS: '1000',
        DB_STATEMENT_TIMEOUT_MS: '2000',
        READINESS_TIMEOUT_MS: '1000',
        RATE_LIMIT_MAX: '0',
      },
    });
  });
  after(async () => {
    await service?.stop();
    await postgres?.destroy();
    await rm(secrets, { recursive: true, force: true });
  });

  it('turns readiness 503 within 2 s, fails fast with 503 problem+json, recovers within 5 s and loses no acknowledged write', async () => {
    const outcomes: Outcome[] = [];
    const readiness: { at: number; status: number }[] = [];
    let running = true;
    let n = 0;
    const writer = async () => {
      while (running) {
        n += 1;
        const startedAt = performance.now();
        try {
          const response = await fetch(`${service.url}/users`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ name: `Load ${n}`, email: `load-${n}-${process.pid}@example.com` }),
            signal: AbortSignal.timeout(15_000),
          });
          const body = (await response.json()) as { id?: string };
          const outcome: Outcome = {
            status: response.status,
            ms: performance.now() - startedAt,
            at: startedAt,
            contentType: response.headers.get('content-type'),
          };
          if (body.id) outcome.id = body.id;
          outcomes.push(outcome);
        } catch {
          outcomes.push({ status: 0, ms: performance.now() - startedAt, at: startedAt });
        }
        // Light load: a 2-core machine shared with other suites.
        await sleep(20);
      }
    };
    const prober = async () => {
      while (running) {
        const response = await fetch(`${service.url}/readyz`).catch(() => undefined);
        readiness.push({ at: performance.now(), status: response?.status ?? 0 });
        await response?.body?.cancel();
        await sleep(50);
      }
    };
    const load = Promise.all([writer(), writer(), writer(), prober()]);

    await sleep(1_500);
    const stopIssuedAt = performance.now();
    await postgres.stop();
    const stoppedAt = performance.now();
    await sleep(4_000);
    const startIssuedAt = performance.now();
    await postgres.start();
    const startedAt = performance.now();
    // Recovery: the first moment readiness and a write both succeed again.
    // Not recovered within 30 s: NaN, which the recovery assertion reports once the load has stopped.
    const recoveredAt = await pollUntil(
      () => {
        const ready = readiness.findLast((probe) => probe.status === 200 && probe.at > startedAt);
        const wrote = outcomes.find((outcome) => outcome.status === 201 && outcome.at > startedAt);
        return ready && wrote ? Math.max(ready.at, wrote.at + wrote.ms) : undefined;
      },
      { what: 'readiness 200 and a 201 write after the restart', timeoutMs: 30_000 },
    ).catch(() => Number.NaN);
    await sleep(500);
    running = false;
    await load;

    const first503 = readiness.find((probe) => probe.status === 503 && probe.at > stopIssuedAt);
    assert.ok(first503, 'readiness turned 503');
    // Measured from the moment the stop began: the server refuses connections somewhere inside that window.
    const timeTo503 = first503.at - stopIssuedAt;
    const during = outcomes.filter(
      (outcome) => outcome.at > stoppedAt && outcome.at + outcome.ms < startIssuedAt,
    );
    const failed = during.filter((outcome) => outcome.status !== 201);
    const slowestFailure = Math.max(0, ...failed.map((outcome) => outcome.ms));
    const recoveryMs = recoveredAt - startedAt;

    const acknowledged = outcomes
      .filter((outcome) => outcome.status === 201)
      .map((outcome) => outcome.id as string);
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    const { rows } = await client.query<{ id: string }>('select id from users where id = any($1::uuid[])', [
      acknowledged,
    ]);
    await client.end();
    const lost = acknowledged.length - rows.length;

    console.log(
      [
        `postgres stop took ${Math.round(stoppedAt - stopIssuedAt)} ms; time to readiness 503: ${Math.round(timeTo503)} ms after the stop began`,
        `during the outage: ${during.length} writes, ${failed.length} failed, statuses ${[...new Set(failed.map((f) => f.status))].join(',')}, slowest failure ${Math.round(slowestFailure)} ms`,
        `postgres start took ${Math.round(startedAt - startIssuedAt)} ms; recovery time: ${Math.round(recoveryMs)} ms after the server was back (readiness 200 and a 201 write)`,
        `acknowledged writes: ${acknowledged.length}; found in the database: ${rows.length}; lost writes: ${lost}`,
      ].join('\n'),
    );

    if (service.child.exitCode !== null) {
      const errors = service.lines
        .filter((line) => line.level === 'ERROR')
        .map((line) => JSON.stringify(line));
      console.log(
        `the service exited (${service.child.exitCode}):\n${[...errors, ...service.stderr].join('\n')}`,
      );
    }
    assert.ok(timeTo503 <= 2_000, `readiness 503 within 2 s (took ${Math.round(timeTo503)} ms)`);
    assert.ok(failed.length > 0, 'writes were attempted during the outage');
    assert.ok(
      failed.every(
        (outcome) => outcome.status === 503 && /application\/problem\+json/.test(outcome.contentType ?? ''),
      ),
      'every failure is a 503 problem+json',
    );
    // Bounded by the connect timeout (1 s), never by the 15 s client timeout: nothing hangs.
    assert.ok(slowestFailure < 3_000, `failures are fast (slowest ${Math.round(slowestFailure)} ms)`);
    assert.ok(recoveryMs <= 5_000, `recovered within 5 s (took ${Math.round(recoveryMs)} ms)`);
    assert.equal(lost, 0, 'every write acknowledged with 201 is in the database');
    assert.equal(service.child.exitCode, null, 'the service itself never restarted');
  });

  it('bounds every request by its timeouts when the database hangs instead of refusing (SIGSTOP)', async () => {
    const pids = await postgresPids(postgres.dir);
    const outcomes: Outcome[] = [];
    const probes: { at: number; ms: number; status: number }[] = [];
    process.kill(pids[0] as number, 'SIGSTOP');
    for (const pid of pids.slice(1)) process.kill(pid, 'SIGSTOP');
    const frozenAt = performance.now();
    try {
      const writes = Array.from({ length: 4 }, async (_, i) => {
        const startedAt = performance.now();
        const response = await fetch(`${service.url}/users`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: `Hung ${i}`, email: `hung-${i}-${process.pid}@example.com` }),
          signal: AbortSignal.timeout(20_000),
        });
        await response.body?.cancel();
        outcomes.push({
          status: response.status,
          ms: performance.now() - startedAt,
          at: startedAt,
          contentType: response.headers.get('content-type'),
        });
      });
      // Probes for 2.5 s at most; without a 503 by then the assertion below says so.
      const readiness = pollUntil(
        async () => {
          const startedAt = performance.now();
          const response = await fetch(`${service.url}/readyz`);
          await response.body?.cancel();
          probes.push({ at: startedAt, ms: performance.now() - startedAt, status: response.status });
          return response.status === 503;
        },
        { what: 'readiness 503 on the frozen database', timeoutMs: 2_500, intervalMs: 100 },
      ).catch(() => false);
      await Promise.all([...writes, readiness]);
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
    const first503 = probes.find((probe) => probe.status === 503);
    const slowest = Math.max(...outcomes.map((outcome) => outcome.ms));
    console.log(
      `hung database: readiness 503 ${first503 ? Math.round(first503.at + first503.ms - frozenAt) : 'never'} ms after the freeze; writes ${outcomes.map((o) => o.status).join(',')}, slowest ${Math.round(slowest)} ms (connect timeout 1 s, statement timeout 2 s + 1 s client bound)`,
    );
    assert.ok(first503 && first503.at + first503.ms - frozenAt <= 2_000, 'readiness 503 within 2 s');
    assert.ok(
      outcomes.every((outcome) => outcome.status === 503 && /problem\+json/.test(outcome.contentType ?? '')),
    );
    assert.ok(slowest < 5_000, 'no request hangs past its timeouts');
    // Back to normal once the processes run again.
    const status = await pollUntil(
      async () => {
        const response = await fetch(`${service.url}/readyz`);
        await response.body?.cancel();
        return response.status === 200 && response.status;
      },
      { what: 'readiness 200 after SIGCONT', timeoutMs: 10_000, intervalMs: 100 },
    );
    assert.equal(status, 200);
  });

  it('uses a rotated DATABASE_PASSWORD_FILE for new connections without a restart', async () => {
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    try {
      await admin.query(`create role app login password 'first-pw'`);
      await admin.query('grant all on all tables in schema public to app');
      // Password authentication for `app` only; the trust line below keeps the admin connection working.
      await admin.query(`select 1`);
    } finally {
      await admin.end();
    }
    const hba = join(postgres.dir, 'pg_hba.conf');
    await writeFile(
      join(secrets, 'hba'),
      'local all all trust\nhost all app 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n',
    );
    await rename(join(secrets, 'hba'), hba).catch(async () => {
      const { readFile } = await import('node:fs/promises');
      await writeFile(hba, await readFile(join(secrets, 'hba'), 'utf8'));
    });
    await reloadPostgres(postgres.url);
    const wrongUrl = new URL(postgres.url);
    wrongUrl.username = 'app';
    wrongUrl.password = 'not-the-password';
    const wrong = new pg.Client({ connectionString: wrongUrl.toString() });
    await assert.rejects(wrong.connect(), /password authentication failed/, 'passwords are really checked');

    const passwordFile = join(secrets, 'db-password');
    await writeFile(passwordFile, 'first-pw\n');
    const appUrl = new URL(postgres.url);
    appUrl.username = 'app';
    const rotating = await spawnService({
      env: {
        DATABASE_URL: appUrl.toString(),
        DATABASE_PASSWORD_FILE: passwordFile,
        MIGRATE_ON_START: 'false',
        RATE_LIMIT_MAX: '0',
        DB_POOL_MAX: '2',
      },
    });
    try {
      const create = async (tag: string) =>
        fetch(`${rotating.url}/users`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: tag, email: `${tag}-${process.pid}@example.com` }),
        });
      assert.equal((await create('before-rotation')).status, 201);

      const admin2 = new pg.Client({ connectionString: postgres.url });
      await admin2.connect();
      await admin2.query(`alter role app password 'second-pw'`);
      // Rotate the way Vault Agent and the kubelet do: write aside, rename over.
      await writeFile(`${passwordFile}.tmp`, 'second-pw\n');
      await rename(`${passwordFile}.tmp`, passwordFile);
      await rotating.waitForLine(
        (line) => /configuration reloaded: DATABASE_PASSWORD/.test(line.message),
        15_000,
      );
      // Force new connections: drop every session the service holds.
      await admin2.query(`select pg_terminate_backend(pid) from pg_stat_activity where usename = 'app'`);
      await admin2.end();

      const status = await pollUntil(
        async () => {
          const response = await create(`after-rotation-${Date.now()}`);
          await response.body?.cancel();
          return response.status === 201 && response.status;
        },
        { what: 'a write on a new connection', timeoutMs: 10_000, intervalMs: 200 },
      );
      assert.equal(status, 201, 'new connections authenticate with the rotated password');
      assert.equal(rotating.child.exitCode, null);
      const leaked = rotating.lines.some((line) => JSON.stringify(line).includes('-pw'));
      assert.equal(leaked, false, 'the password never reaches the log');
    } finally {
      await rotating.stop();
    }
  });
});

/** The postmaster (first line of postmaster.pid) and its children. */
async function postgresPids(dir: string): Promise<number[]> {
  const { readFile } = await import('node:fs/promises');
  const { execFile } = await import('node:child_process');
  const postmaster = Number((await readFile(join(dir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const children = await new Promise<string>((resolve) =>
    execFile('pgrep', ['-P', String(postmaster)], (_error, stdout) => resolve(stdout)),
  );
  return [postmaster, ...children.split('\n').filter(Boolean).map(Number)];
}

/** pg_reload_conf() only signals the postmaster; done once a new session has its later configuration load time. */
async function reloadPostgres(url: string): Promise<void> {
  const loadTime = async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query<{ at: string }>('select pg_conf_load_time()::text as at')).rows[0]?.at;
    } finally {
      await client.end();
    }
  };
  const before = await loadTime();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('select pg_reload_conf()');
  } finally {
    await client.end();
  }
  await pollUntil(async () => (await loadTime()) !== before, {
    what: 'PostgreSQL configuration reloaded',
    timeoutMs: 10_000,
  });
}
