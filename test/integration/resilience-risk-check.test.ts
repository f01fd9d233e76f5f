import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { HealthRegistry } from '../../src/platform/health/health-registry.ts';
import { createLogger } from '../../src/platform/logging/logger.ts';
import { createMetricsRegistry } from '../../src/platform/metrics/metrics-registry.ts';
import { buildApp } from '../../src/services/users/app.ts';
import { MemoryUsersRepository } from '../../src/services/users/memory-users.repository.ts';
import { riskAdmission } from '../../src/services/users/risk-admission.ts';
import { RiskClient } from '../../src/services/users/risk-client.ts';
import { UsersService } from '../../src/services/users/users.service.ts';
import { LogCapture } from '../support/log-capture.ts';
import { parseMetrics, samplesOf } from '../support/metrics-text.ts';
import { RiskDouble } from '../support/risk-double.ts';

const settings = {
  timeoutMs: 1_000,
  attemptTimeoutMs: 300,
  retries: 2,
  retryInitialDelayMs: 10,
  retryMaxDelayMs: 50,
  breakerThreshold: 4,
  breakerHalfOpenAfterMs: 500,
  bulkheadLimit: 10,
  bulkheadQueue: 10,
};

async function breakerGauge(metrics: Registry): Promise<number | undefined> {
  const [sample] = samplesOf(parseMetrics(await metrics.metrics()), 'circuit_breaker_state', {
    breaker: 'risk-service',
  });
  return sample?.value;
}

describe('risk check on user creation (composed policy, degraded path)', () => {
  const risk = new RiskDouble();
  const logs = new LogCapture();
  const metrics = createMetricsRegistry({ service: 'user-service', version: 'test', canary: false });
  let app: FastifyInstance;
  let client: RiskClient;
  let n = 0;

  const create = (local = 'user') => {
    n += 1;
    return app.inject({
      method: 'POST',
      url: '/users',
      payload: { name: `User ${n}`, email: `${local}-${n}@example.com` },
    });
  };

  before(async () => {
    await risk.start();
    const { logger } = createLogger({ service: 'test', version: 'test', level: 'debug', destination: logs });
    client = new RiskClient({ url: risk.url, logger, metrics, settings });
    const service = new UsersService({
      repository: new MemoryUsersRepository(),
      idempotencyTtlMs: 3_600_000,
      admission: riskAdmission(client, logger, metrics),
    });
    app = await buildApp({
      logger,
      health: new HealthRegistry({ timeoutMs: 1_000 }),
      service,
      version: 'test',
      metrics,
      bodyLimitBytes: 16_384,
      requestTimeoutMs: 10_000,
      docsEnabled: false,
      slowRequestMs: () => 1_000,
    });
  });
  after(async () => {
    await app.close();
    await risk.stop();
  });
  beforeEach(() => {
    risk.mode = { kind: 'decide' };
    risk.calls = 0;
    client.policy.update(settings);
  });

  it('allow -> active, review -> pending_review', async () => {
    const allowed = await create('ok');
    assert.equal(allowed.statusCode, 201);
    assert.equal(allowed.json().status, 'active');
    const reviewed = await create('review');
    assert.equal(reviewed.statusCode, 201);
    assert.equal(reviewed.json().status, 'pending_review');
  });

  it('deny -> 422 problem+json, and no user is stored', async () => {
    const denied = await create('deny');
    assert.equal(denied.statusCode, 422);
    assert.match(String(denied.headers['content-type']), /application\/problem\+json/);
    assert.equal(denied.json().type, 'https://problems.user-service.dev/registration-declined');
    const list = await app.inject({ method: 'GET', url: '/users?limit=100' });
    assert.equal(
      list.json().items.some((user: { email: string }) => user.email.startsWith('deny')),
      false,
    );
  });

  it('retries a 503 with backoff, then degrades to pending_review with a WARN line (never a 500)', async () => {
    risk.mode = { kind: 'status', status: 503 };
    const response = await create();
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().status, 'pending_review');
    assert.equal(risk.calls, 1 + settings.retries, 'first attempt plus the bounded retries');
    const warn = logs.lines.findLast((line) => line.message.startsWith('risk check unavailable'));
    assert.ok(warn);
    assert.equal(warn.level, 'WARN');
    assert.equal(JSON.stringify(warn).includes('@example.com'), false, 'no personal data in the WARN line');
  });

  it('does not retry a non-retryable failure (an answer it cannot use)', async () => {
    risk.mode = { kind: 'garbage' };
    const response = await create();
    assert.equal(response.json().status, 'pending_review');
    assert.equal(risk.calls, 1);
  });

  it('cancels a slow attempt at the attempt timeout and keeps the whole call under the budget', async () => {
    risk.mode = { kind: 'slow', delayMs: 5_000 };
    const startedAt = performance.now();
    const response = await create();
    const elapsed = performance.now() - startedAt;
    assert.equal(response.json().status, 'pending_review');
    // The budget, not the 5 s answer, decides: generous slack for a loaded machine.
    assert.ok(elapsed < settings.timeoutMs + 1_000, `took ${Math.round(elapsed)} ms`);
  });

  it('opens the breaker, fails fast without calling, then half-opens and closes after recovery', async () => {
    risk.mode = { kind: 'status', status: 503 };
    // 3 attempts per request; the 4th failed attempt opens the breaker during the second request.
    await create();
    await create();
    assert.equal(client.policy.breakerState, 'open');
    assert.equal(await breakerGauge(metrics), 2);
    const callsWhenOpen = risk.calls;
    const startedAt = performance.now();
    const fast = await create();
    assert.equal(fast.json().status, 'pending_review');
    assert.equal(risk.calls, callsWhenOpen, 'an open breaker does not call the service');
    assert.ok(performance.now() - startedAt < 500, 'fails fast');
    assert.ok(
      logs.lines.some(
        (line) => line.level === 'WARN' && /circuit breaker risk-service opened/.test(line.message),
      ),
    );

    risk.mode = { kind: 'decide' };
    await new Promise((resolve) => setTimeout(resolve, settings.breakerHalfOpenAfterMs + 50));
    const recovered = await create();
    assert.equal(recovered.json().status, 'active');
    assert.equal(client.policy.breakerState, 'closed');
    assert.equal(await breakerGauge(metrics), 0);
    assert.ok(logs.lines.some((line) => /circuit breaker risk-service half-open/.test(line.message)));
    assert.ok(logs.lines.some((line) => /circuit breaker risk-service closed/.test(line.message)));
  });

  it('takes new breaker settings at run time', async () => {
    client.policy.update({ ...settings, retries: 0, breakerThreshold: 1 });
    risk.mode = { kind: 'status', status: 502 };
    await create();
    assert.equal(risk.calls, 1);
    assert.equal(client.policy.breakerState, 'open');
  });

  it('rejects calls past the bulkhead at once instead of queueing without bound', async () => {
    client.policy.update({ ...settings, bulkheadLimit: 1, bulkheadQueue: 0 });
    risk.mode = { kind: 'slow', delayMs: 200 };
    const [first, second] = await Promise.all([create(), create()]);
    assert.deepEqual([first.json().status, second.json().status].sort(), ['active', 'pending_review']);
    assert.equal(risk.calls, 1);
  });
});
