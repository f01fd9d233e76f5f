import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { pollUntil } from '../../scripts/lib/poll-until.ts';
import { HealthRegistry } from '../../src/platform/health/health-registry.ts';
import { createLogger } from '../../src/platform/logging/logger.ts';
import { createMetricsRegistry } from '../../src/platform/metrics/metrics-registry.ts';
import { type ProtectionSettings, protectionPlugin } from '../../src/platform/resilience/protection.ts';
import { buildApp } from '../../src/services/users/app.ts';
import { MemoryUsersRepository } from '../../src/services/users/memory-users.repository.ts';
import { UsersService } from '../../src/services/users/users.service.ts';
import { LogCapture } from '../support/log-capture.ts';

const base: ProtectionSettings = {
  RATE_LIMIT_MAX: 3,
  RATE_LIMIT_WINDOW_MS: 60_000,
  RATE_LIMIT_CLIENT_HEADER: 'x-client-id',
  LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: 0,
  LOAD_SHED_MAX_HEAP_USED_BYTES: 0,
  LOAD_SHED_MAX_RSS_BYTES: 0,
  LOAD_SHED_RETRY_AFTER_S: 7,
  HEADER_COUNT_LIMIT: 100,
};

async function start(settings: () => ProtectionSettings): Promise<{ app: FastifyInstance; url: string }> {
  const { logger } = createLogger({
    service: 'test',
    version: 'test',
    level: 'warn',
    destination: new LogCapture(),
  });
  const health = new HealthRegistry({ timeoutMs: 1_000 });
  const metrics = createMetricsRegistry({ service: 'user-service', version: 'test', canary: false });
  const app = await buildApp({
    logger,
    health,
    service: new UsersService({ repository: new MemoryUsersRepository(), idempotencyTtlMs: 3_600_000 }),
    version: 'test',
    metrics,
    bodyLimitBytes: 1_024,
    requestTimeoutMs: 10_000,
    docsEnabled: false,
    slowRequestMs: () => 1_000,
    maxHeaderBytes: 4_096,
    plugins: [protectionPlugin(settings, metrics)],
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  health.markStarted();
  const address = app.server.address();
  return { app, url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` };
}

describe('protection: rate limits, load shedding, header and body limits', () => {
  const apps: FastifyInstance[] = [];
  after(() => Promise.all(apps.map((app) => app.close())));

  it('limits each client separately with a 429 problem+json and Retry-After; limits reload live', async () => {
    let current = { ...base };
    const { app, url } = await start(() => current);
    apps.push(app);
    const get = (client: string) => fetch(`${url}/users`, { headers: { 'x-client-id': client } });
    for (let i = 0; i < 3; i += 1) assert.equal((await get('alice')).status, 200);
    const limited = await get('alice');
    assert.equal(limited.status, 429);
    assert.match(limited.headers.get('content-type') ?? '', /application\/problem\+json/);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    const problem = (await limited.json()) as { type: string; status: number };
    assert.equal(problem.type, 'https://problems.user-service.dev/rate-limited');
    assert.equal(problem.status, 429);
    assert.equal((await get('bob')).status, 200, 'another client has its own budget');
    assert.equal((await fetch(`${url}/readyz`)).status, 200, 'probes are never rate limited');
    for (let i = 0; i < 5; i += 1) await fetch(`${url}/healthz`);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);

    current = { ...current, RATE_LIMIT_MAX: 100 };
    assert.equal((await get('alice')).status, 200, 'a reloaded limit applies to the next request');
  });

  it('sheds load with 503 problem+json and Retry-After, but keeps answering probes', async () => {
    // A 1-byte heap limit is always exceeded once under-pressure has taken its first sample.
    const { app, url } = await start(() => ({
      ...base,
      RATE_LIMIT_MAX: 0,
      LOAD_SHED_MAX_HEAP_USED_BYTES: 1,
    }));
    apps.push(app);
    const response = await pollUntil(
      async () => {
        const answer = await fetch(`${url}/users`);
        if (answer.status === 503) return answer;
        await answer.body?.cancel();
        return undefined;
      },
      { what: 'a 503 once the heap limit is sampled', timeoutMs: 10_000, intervalMs: 100 },
    );
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('retry-after'), '7');
    assert.match(response.headers.get('content-type') ?? '', /application\/problem\+json/);
    const problem = (await response.json()) as { type: string; detail: string };
    assert.equal(problem.type, 'https://problems.user-service.dev/overloaded');
    assert.match(problem.detail, /overloaded \(heapUsedBytes/);
    assert.equal((await fetch(`${url}/healthz`)).status, 200, 'liveness is not shed');
  });

  it('answers 431 to oversized headers and 413 problem+json to oversized bodies', async () => {
    const { app, url } = await start(() => ({ ...base, RATE_LIMIT_MAX: 0 }));
    apps.push(app);
    const big = await fetch(`${url}/users`, { headers: { 'x-padding': 'a'.repeat(8_000) } });
    assert.equal(big.status, 431);
    const body = await fetch(`${url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x'.repeat(2_000), email: 'a@b.co' }),
    });
    assert.equal(body.status, 413);
    assert.match(body.headers.get('content-type') ?? '', /application\/problem\+json/);
    assert.equal(app.server.maxHeadersCount, 100);
  });
});
