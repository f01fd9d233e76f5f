import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { scrape, sumOf } from '../support/metrics-text.ts';
import { OtlpReceiver } from '../support/otlp-receiver.ts';
import { type RunningService, spawnService } from '../support/spawn-service.ts';

const WARM_UP_REQUESTS = 400;
const SERVER = 2;

async function createUser(service: RunningService, n: number): Promise<string> {
  const response = await fetch(`${service.url}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: `Warm ${n}`, email: `warm-${n}-${randomUUID()}@example.com` }),
  });
  assert.equal(response.status, 201);
  return ((await response.json()) as { id: string }).id;
}

describe('start-up warm-up (WARM_UP_REQUESTS)', () => {
  let directory: string;
  let receiver: OtlpReceiver;
  let service: RunningService;
  let ids: string[];

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'warm-up-'));
    const databaseUrl = `pglite://${directory}`;
    // Users to read: the warm-up finds them on the list's first page and cycles through their by-id route.
    const seeding = await spawnService({ env: { DATABASE_URL: databaseUrl } });
    try {
      ids = [await createUser(seeding, 1), await createUser(seeding, 2)];
    } finally {
      await seeding.stop();
    }
    receiver = new OtlpReceiver();
    await receiver.start();
    service = await spawnService({
      env: {
        DATABASE_URL: databaseUrl,
        WARM_UP_REQUESTS: String(WARM_UP_REQUESTS),
        REQUEST_LOG: 'all',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_TRACES_SAMPLER_ARG: '1',
      },
    });
  });

  after(async () => {
    await service?.stop();
    await receiver?.stop();
    await rm(directory, { recursive: true, force: true });
  });

  it('sends the configured number of requests before the ready line, and says so in it', async () => {
    const ready = await service.waitForLine((line) => line.message === 'ready to serve');
    assert.equal(ready.warm_up_requests, WARM_UP_REQUESTS);
    assert.equal(typeof ready.warm_up_ms, 'number');
    assert.ok(!service.lines.some((line) => String(line.message).startsWith('warm-up stopped early')));
  });

  it('leaves no request log line, no HTTP metric and no error count behind', async () => {
    await service.waitForLine((line) => line.message === 'ready to serve');
    const samples = await scrape(service.url);
    assert.equal(sumOf(samples, 'http_requests_total'), 0);
    assert.equal(sumOf(samples, 'http_request_duration_seconds_count'), 0);
    assert.equal(sumOf(samples, 'app_errors_total'), 0);
    assert.equal(sumOf(samples, 'http_requests_in_flight'), 1, 'the scrape itself, and no warm-up request');
    assert.equal(service.lines.filter((line) => line.message === 'request completed').length, 0);
  });

  it('makes no spans: besides the instance start-up span, the only trace exported is the first real request', async () => {
    const traceId = randomUUID().replaceAll('-', '');
    const response = await fetch(`${service.url}/users/${ids[0]}`, {
      headers: { traceparent: `00-${traceId}-${'1'.repeat(16)}-01` },
    });
    assert.equal(response.status, 200);
    await receiver.waitFor((spans) => spans.some((span) => span.traceId === traceId && span.kind === SERVER));
    const startUp = receiver.spans.filter((span) => span.name === 'start-up');
    assert.equal(startUp.length, 1, 'one start-up span, sent with the first batch');
    assert.equal(startUp[0]?.attributes['sampling.kept_as'], 'start-up');
    assert.deepEqual(
      [...new Set(receiver.spans.filter((span) => span.name !== 'start-up').map((span) => span.traceId))],
      [traceId],
      'every other span received belongs to the one real request',
    );
  });

  it('changes no data: the users it read are all there is', async () => {
    const response = await fetch(`${service.url}/users?limit=100`);
    const page = (await response.json()) as { items: { id: string }[] };
    assert.deepEqual(page.items.map((user) => user.id).sort(), [...ids].sort());
  });

  it('a client cannot pass its requests off as warm-up ones: the header without the process token counts', async () => {
    const before = sumOf(await scrape(service.url), 'http_requests_total', { route: '/users/:id' });
    const response = await fetch(`${service.url}/users/${ids[1]}`, {
      headers: { 'x-warm-up': 'guess' },
    });
    assert.equal(response.status, 200);
    const line = await service.waitForLine(
      (candidate) => candidate.message === 'request completed' && candidate.route === '/users/:id',
    );
    assert.equal(line.status, 200);
    const afterward = sumOf(await scrape(service.url), 'http_requests_total', { route: '/users/:id' });
    assert.ok(afterward > before, `counted: ${before} -> ${afterward}`);
  });
});

describe('WARM_UP_REQUESTS=0 (the default outside the image)', () => {
  it('starts without a warm-up and says nothing of one', async () => {
    const service = await spawnService({ env: { DATABASE_URL: 'memory://' } });
    try {
      const ready = await service.waitForLine((line) => line.message === 'ready to serve');
      assert.equal(ready.warm_up_requests, undefined);
    } finally {
      await service.stop();
    }
  });
});

describe('WARM_UP_MAX_MS', () => {
  it('ends the warm-up at the bound, says so in a WARN line, and the service becomes ready', async () => {
    const service = await spawnService({
      env: { DATABASE_URL: 'memory://', WARM_UP_REQUESTS: '100000', WARM_UP_MAX_MS: '300' },
    });
    try {
      const ready = await service.waitForLine((line) => line.message === 'ready to serve');
      assert.ok(Number(ready.warm_up_requests) < 100_000, `stopped after ${ready.warm_up_requests}`);
      const warning = await service.waitForLine((line) =>
        String(line.message).startsWith('warm-up stopped early (time bound of 300 ms)'),
      );
      assert.equal(warning.level, 'WARN');
      assert.equal((await fetch(`${service.url}/readyz`)).status, 200);
    } finally {
      await service.stop();
    }
  });
});
