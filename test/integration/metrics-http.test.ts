import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { pollUntil } from '../../scripts/lib/poll-until.ts';
import { DependencyError } from '../../src/platform/errors/app-error.ts';
import { HealthRegistry } from '../../src/platform/health/health-registry.ts';
import { createHttpServer } from '../../src/platform/http/create-http-server.ts';
import type { FaultSettings } from '../../src/platform/http/fault-injection.ts';
import { createLogger } from '../../src/platform/logging/logger.ts';
import { HTTP_DURATION_BUCKETS } from '../../src/platform/metrics/http-metrics.ts';
import { createMetricsRegistry } from '../../src/platform/metrics/metrics-registry.ts';
import { protectionPlugin } from '../../src/platform/resilience/protection.ts';
import { LogCapture } from '../support/log-capture.ts';
import { type Sample, samplesOf, scrape, sumOf } from '../support/metrics-text.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres-database.ts';
import { needs, TEST_DATABASE_URL } from '../support/requirements.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const SLOW_REQUEST_MS = 150;
const MISSING_ID = '01890a5d-ac96-774b-bcce-b302099a8057';

describe('HTTP metrics of the users app (PGlite, real HTTP)', () => {
  let app: TestApp;
  const faults: FaultSettings = { FAULT_SLOW_RATIO: 0, FAULT_SLOW_MS: 0, FAULT_ERROR_RATIO: 0 };
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${app.url}${path}`, { headers, signal: AbortSignal.timeout(10_000) }).then(async (response) => {
      await response.arrayBuffer();
      return response.status;
    });

  before(async () => {
    app = await startTestApp('pglite://memory', { slowRequestMs: SLOW_REQUEST_MS, faults: () => faults });
  });
  after(() => app?.close());

  it('serves the text format with the default labels and the runtime metrics', async () => {
    const response = await fetch(`${app.url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.match(text, /^# TYPE nodejs_gc_duration_seconds histogram$/m);
    assert.match(text, /^# TYPE http_request_duration_seconds histogram$/m);
    const samples = await scrape(app.url);
    for (const name of [
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
      'process_cpu_user_seconds_total',
    ]) {
      const [sample] = samplesOf(samples, name);
      assert.ok(sample, `${name} present`);
      assert.deepEqual(
        { service: sample.labels.service, version: sample.labels.version, canary: sample.labels.canary },
        { service: 'user-service', version: 'test', canary: 'false' },
      );
    }
  });

  it('labels requests by route template, never by raw path; unmatched paths share one series', async () => {
    assert.equal(await get(`/users/${MISSING_ID}`), 404);
    assert.equal(await get('/users/not-a-uuid'), 400);
    assert.equal(await get('/no/such/path/12345'), 404);
    const samples = await scrape(app.url);
    const routes = new Set(samplesOf(samples, 'http_requests_total').map((sample) => sample.labels.route));
    assert.ok(routes.has('/users/:id'), [...routes].join(', '));
    assert.ok(routes.has('unmatched'));
    for (const route of routes) assert.doesNotMatch(String(route), /[0-9a-f]{8}-|not-a-uuid|12345/);
    assert.equal(
      sumOf(samples, 'http_requests_total', { method: 'GET', route: '/users/:id', status_code: '404' }),
      1,
    );
    assert.equal(
      sumOf(samples, 'http_request_duration_seconds_count', {
        method: 'GET',
        route: '/users/:id',
        status_code: '400',
      }),
      1,
    );
    assert.equal(sumOf(samples, 'http_requests_total', { route: 'unmatched', status_code: '404' }), 1);
    // Probes and the scrape itself are not request metrics.
    assert.equal(samplesOf(samples, 'http_requests_total', { route: '/metrics' }).length, 0);
    assert.equal(samplesOf(samples, 'http_requests_total', { route: '/healthz' }).length, 0);
  });

  it('has histogram buckets that include 0.8 s and 1 s', async () => {
    assert.ok(HTTP_DURATION_BUCKETS.includes(0.8) && HTTP_DURATION_BUCKETS.includes(1));
    await get('/users');
    const bounds = samplesOf(await scrape(app.url), 'http_request_duration_seconds_bucket', {
      route: '/users',
      status_code: '200',
    }).map((sample) => sample.labels.le);
    assert.deepEqual(bounds, [...HTTP_DURATION_BUCKETS.map(String), '+Inf']);
  });

  it('counts slow requests and logs each at WARN with slow: true, from the same measurement', async () => {
    const before = await scrape(app.url);
    faults.FAULT_SLOW_RATIO = 1;
    faults.FAULT_SLOW_MS = SLOW_REQUEST_MS + 100;
    try {
      assert.equal(await get('/users?limit=1'), 200);
      assert.equal(await get('/users?limit=2'), 200);
    } finally {
      faults.FAULT_SLOW_RATIO = 0;
    }
    assert.equal(await get('/users?limit=3'), 200);
    const samples = await scrape(app.url);
    const slow = (s: Sample[]) => sumOf(s, 'http_slow_requests_total', { method: 'GET', route: '/users' });
    assert.equal(slow(samples) - slow(before), 2);
    const slowLines = app.logs.lines.filter((line) => line.slow === true && line.route === '/users');
    assert.equal(slowLines.length, 2);
    for (const line of slowLines) {
      assert.equal(line.level, 'WARN');
      assert.ok((line.duration_ms as number) > SLOW_REQUEST_MS);
      assert.match(String(line.trace_id), /^[0-9a-f]{32}$/);
    }
    // Both slow requests sit above the 0.25 s bound and at or below 2.5 s.
    const bucket = (le: string) =>
      sumOf(samples, 'http_request_duration_seconds_bucket', { route: '/users', status_code: '200', le }) -
      sumOf(before, 'http_request_duration_seconds_bucket', { route: '/users', status_code: '200', le });
    assert.equal(bucket('2.5') - bucket('0.25'), 2);
  });

  it('counts errors by kind: business from a 4xx, system from an injected failure', async () => {
    const before = await scrape(app.url);
    assert.equal(await get('/users/not-a-uuid'), 400);
    faults.FAULT_ERROR_RATIO = 1;
    try {
      assert.equal(await get('/users'), 500);
    } finally {
      faults.FAULT_ERROR_RATIO = 0;
    }
    const samples = await scrape(app.url);
    const delta = (kind: string) =>
      sumOf(samples, 'app_errors_total', { kind }) - sumOf(before, 'app_errors_total', { kind });
    assert.equal(delta('business'), 1);
    assert.equal(delta('system'), 1);
    assert.equal(delta('dependency'), 0);
    assert.equal(sumOf(samples, 'http_requests_total', { route: '/users', status_code: '500' }), 1);
    const injected = app.logs.find((line) => line.level === 'ERROR' && line.kind === 'system');
    assert.ok(injected, 'the injected failure is logged as a system error');
  });

  it('a client cannot label its request canary: x-canary: true counts as this stable instance', async () => {
    const before = await scrape(app.url);
    await get('/users?limit=4', { 'x-canary': 'true' });
    const samples = await scrape(app.url);
    assert.equal(sumOf(samples, 'http_requests_total', { route: '/users', canary: 'true' }), 0);
    const stable = (s: typeof samples) =>
      sumOf(s, 'http_requests_total', { route: '/users', canary: 'false' });
    assert.equal(stable(samples) - stable(before), 1);
  });

  it('reports the embedded database connection as in_use, idle and waiting', async () => {
    const samples = await scrape(app.url);
    assert.equal(sumOf(samples, 'db_pool_connections', { state: 'in_use' }), 0);
    assert.equal(sumOf(samples, 'db_pool_connections', { state: 'idle' }), 1);
    assert.equal(sumOf(samples, 'db_pool_connections', { state: 'waiting' }), 0);
  });

  it('counts requests in flight while they are served', async () => {
    faults.FAULT_SLOW_RATIO = 1;
    faults.FAULT_SLOW_MS = 400;
    const pending = [get('/users?limit=5'), get('/users?limit=6')];
    faults.FAULT_SLOW_RATIO = 1;
    try {
      // The two slow requests plus the scrape itself; bounded wait until both have arrived.
      const inFlight = await pollUntil(
        async () => {
          const now = sumOf(await scrape(app.url), 'http_requests_in_flight');
          return now >= 3 ? now : undefined;
        },
        { what: 'both slow requests in flight', timeoutMs: 2_000, intervalMs: 10 },
      );
      assert.equal(inFlight, 3);
    } finally {
      faults.FAULT_SLOW_RATIO = 0;
      await Promise.all(pending);
    }
    assert.equal(sumOf(await scrape(app.url), 'http_requests_in_flight'), 1);
  });
});

/** The platform's HTTP server with metrics on its own registry and nothing else: routes are added by each test. */
async function bareServer(canary: boolean) {
  const { logger } = createLogger({
    service: 'user-service',
    version: 'test',
    level: 'info',
    destination: new LogCapture(),
  });
  const metrics = createMetricsRegistry({ service: 'user-service', version: 'test', canary });
  const app = await createHttpServer({
    logger,
    health: new HealthRegistry({ timeoutMs: 100 }),
    bodyLimitBytes: 1024,
    requestTimeoutMs: 1_000,
    slowRequestMs: () => 1_000,
    metrics,
    canary: () => canary,
  });
  return { app, metrics };
}

async function listenOnLoopback(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

describe('Error kinds from the central problem handler', () => {
  it('counts a dependency failure as dependency, with the instance canary label', async () => {
    const { app } = await bareServer(true);
    app.get('/dependency', async () => {
      throw new DependencyError('risk-service');
    });
    const url = await listenOnLoopback(app);
    try {
      const before = sumOf(await scrape(url), 'app_errors_total', { kind: 'dependency' });
      const response = await fetch(`${url}/dependency`);
      assert.equal(response.status, 503);
      const samples = await scrape(url);
      assert.equal(sumOf(samples, 'app_errors_total', { kind: 'dependency' }) - before, 1);
      const [sample] = samplesOf(samples, 'http_requests_total', { route: '/dependency' });
      assert.equal(sample?.labels.canary, 'true');
      assert.equal(sample?.labels.status_code, '503');
    } finally {
      await app.close();
    }
  });
});

describe('Load shedding in the error metrics', () => {
  it('counts each shed request as a dependency error, though it never reaches the problem handler', async () => {
    const { app, metrics } = await bareServer(false);
    await protectionPlugin(
      () => ({
        RATE_LIMIT_MAX: 0,
        RATE_LIMIT_WINDOW_MS: 60_000,
        LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: 0,
        LOAD_SHED_MAX_HEAP_USED_BYTES: 1,
        LOAD_SHED_MAX_RSS_BYTES: 0,
        LOAD_SHED_RETRY_AFTER_S: 1,
        HEADER_COUNT_LIMIT: 100,
      }),
      metrics,
    )(app);
    app.get('/work', async () => ({ ok: true }));
    const url = await listenOnLoopback(app);
    try {
      const before = sumOf(await scrape(url), 'app_errors_total', { kind: 'dependency' });
      // The heap is sampled about once a second: the limit bites from the first sample on.
      let shed = 0;
      await pollUntil(
        async () => {
          const response = await fetch(`${url}/work`);
          await response.arrayBuffer();
          if (response.status === 503) shed += 1;
          return shed >= 3;
        },
        { what: 'three requests shed', timeoutMs: 5_000, intervalMs: 50 },
      );
      assert.equal(shed, 3);
      const samples = await scrape(url);
      assert.equal(sumOf(samples, 'app_errors_total', { kind: 'dependency' }) - before, 3);
      assert.equal(sumOf(samples, 'http_requests_total', { route: '/work', status_code: '503' }), 3);
    } finally {
      await app.close();
    }
  });
});

describe('Pool metrics on PostgreSQL (node-postgres)', { skip: needs('postgres') }, () => {
  let database: TestDatabase;
  let app: TestApp;

  before(async () => {
    database = await createTestDatabase(TEST_DATABASE_URL as string, 'metrics');
    app = await startTestApp(database.url);
  });
  after(async () => {
    await app?.close();
    await database?.drop();
  });

  it('reports open connections as idle once requests are done, none in use or waiting', async () => {
    const requests = Array.from({ length: 8 }, (_, i) =>
      fetch(`${app.url}/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `P${i}`, email: `pool.${i}.${Date.now()}@example.com` }),
      }).then((response) => response.status),
    );
    assert.deepEqual(await Promise.all(requests), Array(8).fill(201));
    const samples = await scrape(app.url);
    const idle = sumOf(samples, 'db_pool_connections', { state: 'idle' });
    assert.ok(idle >= 1 && idle <= 5, `idle ${idle} within the pool size`);
    assert.equal(sumOf(samples, 'db_pool_connections', { state: 'in_use' }), 0);
    assert.equal(sumOf(samples, 'db_pool_connections', { state: 'waiting' }), 0);
    assert.equal(sumOf(samples, 'http_requests_total', { route: '/users', status_code: '201' }), 8);
  });
});
