import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { HealthRegistry } from '../../src/platform/health/health-registry.ts';
import { createHttpServer } from '../../src/platform/http/create-http-server.ts';
import {
  logsOrdinaryRequest,
  type RequestLogSettings,
  requestLogConfigProperties,
} from '../../src/platform/http/request-log-policy.ts';
import { createLogger } from '../../src/platform/logging/logger.ts';
import type { HttpTracing } from '../../src/platform/tracing/tracing-hooks.ts';
import { usersConfigSchema } from '../../src/services/users/config.ts';
import { LogCapture, type LogLine } from '../support/log-capture.ts';

describe('REQUEST_LOG policy: which ordinary requests get their line', () => {
  const never = () => 0.999;
  const always = () => 0;

  it('all: every request; none: no ordinary request', () => {
    assert.equal(
      logsOrdinaryRequest({ REQUEST_LOG: 'all', REQUEST_LOG_SAMPLE_RATIO: 0 }, false, never),
      true,
    );
    assert.equal(
      logsOrdinaryRequest({ REQUEST_LOG: 'none', REQUEST_LOG_SAMPLE_RATIO: 1 }, true, always),
      false,
    );
  });

  it('sampled: the requests of sampled traces, and a drawn share of the rest', () => {
    const sampled: RequestLogSettings = { REQUEST_LOG: 'sampled', REQUEST_LOG_SAMPLE_RATIO: 0.01 };
    assert.equal(logsOrdinaryRequest(sampled, true, never), true);
    assert.equal(logsOrdinaryRequest(sampled, false, never), false);
    assert.equal(
      logsOrdinaryRequest(sampled, false, () => 0.005),
      true,
    );
    assert.equal(logsOrdinaryRequest({ ...sampled, REQUEST_LOG_SAMPLE_RATIO: 0 }, false, always), false);
  });

  it('is a reloadable key of the user service, sampled at 1 % by default', () => {
    const properties = usersConfigSchema.properties as Record<
      string,
      { default?: unknown; reloadable?: boolean }
    >;
    assert.equal(properties.REQUEST_LOG?.default, 'sampled');
    assert.equal(properties.REQUEST_LOG?.reloadable, true);
    assert.equal(properties.REQUEST_LOG_SAMPLE_RATIO?.default, 0.01);
    assert.equal(properties.REQUEST_LOG_SAMPLE_RATIO?.reloadable, true);
    assert.deepEqual(Object.keys(requestLogConfigProperties), ['REQUEST_LOG', 'REQUEST_LOG_SAMPLE_RATIO']);
  });
});

describe('REQUEST_LOG policy on a running server', () => {
  const logs = new LogCapture();
  const settings: RequestLogSettings = { REQUEST_LOG: 'all', REQUEST_LOG_SAMPLE_RATIO: 0 };
  let slowRequestMs = 60_000;
  let app: FastifyInstance;
  // Stands in for tracing: a request is "sampled" when it says so; inject() does not go through serve().
  const tracing: HttpTracing = {
    serve: (request, response, handle) => handle(request, response),
    ids: () => undefined,
    sampled: (request) => request.headers['x-test-sampled'] === '1',
    requestCompleted: () => {},
  };

  before(async () => {
    const { logger } = createLogger({ service: 's', version: 'v', level: 'info', destination: logs });
    app = await createHttpServer({
      logger,
      health: new HealthRegistry({ timeoutMs: 100 }),
      bodyLimitBytes: 1024,
      requestTimeoutMs: 1000,
      slowRequestMs: () => slowRequestMs,
      requestLog: () => settings,
      tracing,
    });
    app.get('/ok', async () => ({ ok: true }));
    app.post('/things', async (request, reply) => {
      request.log.info({ event: 'thing_created' }, 'thing created');
      return reply.code(201).send({ id: 1 });
    });
    app.get('/boom', async () => {
      throw new Error('boom');
    });
  });
  after(() => app.close());

  /** The lines one request writes, by message. */
  async function linesOf(
    policy: RequestLogSettings,
    request: { method?: 'GET' | 'POST'; url: string; sampled?: boolean },
  ): Promise<LogLine[]> {
    Object.assign(settings, policy);
    const before = logs.lines.length;
    await app.inject({
      method: request.method ?? 'GET',
      url: request.url,
      headers: request.sampled ? { 'x-test-sampled': '1' } : {},
    });
    const lines = logs.lines.slice(before);
    for (const line of lines) assert.match(String(line.trace_id), /^[0-9a-f]{32}$/);
    return lines;
  }
  const messages = (lines: LogLine[]) => lines.map((line) => `${line.level} ${line.message}`);

  const all: RequestLogSettings = { REQUEST_LOG: 'all', REQUEST_LOG_SAMPLE_RATIO: 0 };
  const sampled: RequestLogSettings = { REQUEST_LOG: 'sampled', REQUEST_LOG_SAMPLE_RATIO: 0 };
  const sampledAll: RequestLogSettings = { REQUEST_LOG: 'sampled', REQUEST_LOG_SAMPLE_RATIO: 1 };
  const none: RequestLogSettings = { REQUEST_LOG: 'none', REQUEST_LOG_SAMPLE_RATIO: 1 };

  it('all: every request has its line', async () => {
    assert.deepEqual(messages(await linesOf(all, { url: '/ok' })), ['INFO request completed']);
  });

  it('sampled: an ordinary request of an unsampled trace has none, unless drawn by the ratio', async () => {
    assert.deepEqual(messages(await linesOf(sampled, { url: '/ok' })), []);
    assert.deepEqual(messages(await linesOf(sampledAll, { url: '/ok' })), ['INFO request completed']);
  });

  it('sampled: a sampled trace always has its access line', async () => {
    assert.deepEqual(messages(await linesOf(sampled, { url: '/ok', sampled: true })), [
      'INFO request completed',
    ]);
  });

  it('none: ordinary requests have no line, even of sampled traces', async () => {
    assert.deepEqual(messages(await linesOf(none, { url: '/ok', sampled: true })), []);
  });

  for (const policy of [sampled, none]) {
    it(`${policy.REQUEST_LOG}: errors, client errors and slow requests keep their lines`, async () => {
      assert.deepEqual(messages(await linesOf(policy, { url: '/boom' })), [
        'ERROR unhandled error: boom',
        'INFO request completed',
      ]);
      const missing = await linesOf(policy, { url: '/missing' });
      assert.deepEqual(messages(missing), ['INFO request completed']);
      assert.equal(missing[0]?.status, 404);
      slowRequestMs = -1;
      try {
        const slow = await linesOf(policy, { url: '/ok' });
        assert.deepEqual(messages(slow), ['WARN slow request completed']);
        assert.equal(slow[0]?.slow, true);
      } finally {
        slowRequestMs = 60_000;
      }
    });

    it(`${policy.REQUEST_LOG}: business events keep their lines, with the trace id`, async () => {
      const lines = await linesOf(policy, { method: 'POST', url: '/things' });
      assert.deepEqual(messages(lines), ['INFO thing created']);
      assert.equal(lines[0]?.event, 'thing_created');
    });
  }
});
