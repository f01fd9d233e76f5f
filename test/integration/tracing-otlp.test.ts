import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { LogLine } from '../support/log-capture.ts';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';
import { createTestDatabase } from '../support/postgres-database.ts';
import { needs, TEST_DATABASE_URL } from '../support/requirements.ts';
import { type RunningService, spawnService } from '../support/spawn-service.ts';

const SERVER = 2;
const CLIENT = 3;
const hex = (bytes: number) =>
  Array.from({ length: bytes }, () =>
    Math.floor(Math.random() * 256)
      .toString(16)
      .padStart(2, '0'),
  ).join('');

/** A risk service that answers "allow" and remembers the traceparent of each call. */
async function startRiskService(): Promise<{ url: string; traceparents: string[]; server: Server }> {
  const traceparents: string[] = [];
  const server = createServer(async (request, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    traceparents.push(String(request.headers.traceparent ?? ''));
    // A refusal for `refuse…` addresses: the service degrades and logs a WARN through its root logger.
    if ((JSON.parse(body) as { email: string }).email.startsWith('refuse')) {
      response.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"refused"}');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"decision":"allow"}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/checks`,
    traceparents,
    server,
  };
}

function requestLine(service: RunningService, traceId: string): Promise<LogLine> {
  return service.waitForLine(
    (line) => line.message === 'request completed' && line.trace_id === traceId,
    5_000,
  );
}

interface Target {
  /** Entry module and working directory of the service process. */
  entry?: string;
  cwd?: string;
  databaseUrl: string;
  cleanup?: () => Promise<void>;
}

/** The same checks against the source entry point and against the esbuild bundle the image runs. */
function defineTracingSuite(title: string, prepare: () => Promise<Target>, skip: string | false = false) {
  describe(title, { skip }, () => {
    const receiver = new OtlpReceiver();
    let risk: Awaited<ReturnType<typeof startRiskService>>;
    let service: RunningService;
    let target: Target;

    before(async () => {
      target = await prepare();
      await receiver.start();
      risk = await startRiskService();
      service = await spawnService({
        ...(target.entry ? { entry: target.entry } : {}),
        ...(target.cwd ? { cwd: target.cwd } : {}),
        env: {
          DATABASE_URL: target.databaseUrl,
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
          OTEL_TRACES_SAMPLER_ARG: '1',
          OTEL_BSP_SCHEDULE_DELAY: '100',
          RISK_SERVICE_URL: risk.url,
          APP_VERSION: '9.9.9-test',
          CANARY: 'true',
          LOG_LEVEL: 'info',
          // Every request's line, whatever its trace's sampling: these tests read the lines of unsampled traces.
          REQUEST_LOG: 'all',
        },
        readyTimeoutMs: 60_000,
      });
    });
    after(async () => {
      await service?.stop();
      risk?.server.close();
      await receiver.stop();
      await target?.cleanup?.();
    });

    it('continues an incoming traceparent: server span, child SQL spans, outbound call, matching log line', async () => {
      const traceId = hex(16);
      const parentId = hex(8);
      const response = await fetch(`${service.url}/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${parentId}-01` },
        body: JSON.stringify({ name: 'Ada', email: `ada.${traceId}@example.com` }),
      });
      assert.equal(response.status, 201, await response.text());

      const spans = await receiver.waitFor((all) => {
        const trace = all.filter((span) => span.traceId === traceId);
        const server = trace.find((span) => span.kind === SERVER);
        const insert = trace.find((span) => span.name === 'INSERT users');
        return server && insert && trace.some((span) => span.kind === CLIENT && 'url.full' in span.attributes)
          ? trace
          : undefined;
      });
      const server = spans.find((span) => span.kind === SERVER) as ReceivedSpan;
      assert.equal(server.parentSpanId, parentId, 'the server span is a child of the caller span');
      assert.equal(server.name, 'POST /users');
      assert.equal(server.attributes['http.route'], '/users');
      assert.equal(server.attributes['http.response.status_code'], 201);
      assert.equal(server.resource['service.name'], 'user-service');
      assert.equal(server.resource['service.version'], '9.9.9-test');
      assert.equal(server.resource.canary, true);

      const sql = spans.filter((span) => span.attributes['db.system.name'] === 'postgresql');
      assert.ok(sql.length >= 1, 'at least one SQL span');
      const insert = sql.find((span) => span.name === 'INSERT users') as ReceivedSpan;
      assert.equal(insert.kind, CLIENT);
      assert.equal(insert.parentSpanId, server.spanId, 'the SQL span is a child of the server span');
      assert.match(String(insert.attributes['db.query.text']), /^insert into "users"/);
      assert.doesNotMatch(String(insert.attributes['db.query.text']), /Ada/, 'no parameter values in spans');
      for (const span of sql) assert.equal(span.parentSpanId, server.spanId);

      // Outbound: the risk check is a client span under the server span, and carries its traceparent onward.
      const outbound = spans.find(
        (span) => span.kind === CLIENT && 'url.full' in span.attributes,
      ) as ReceivedSpan;
      assert.equal(outbound.parentSpanId, server.spanId);
      assert.ok(
        risk.traceparents.includes(`00-${traceId}-${outbound.spanId}-01`),
        risk.traceparents.join(', '),
      );

      const line = await requestLine(service, traceId);
      assert.equal(line.span_id, server.spanId, 'the log line names the server span');
      const ready = service.lines.find((candidate) => candidate.message === 'ready to serve');
      assert.equal(ready?.config, undefined, "a line outside a request carries no earlier line's fields");
      assert.equal(line.version, '9.9.9-test');
      assert.equal(line.canary, true);
    });

    it('gives lines written through the root logger inside a request the ids of the active span', async () => {
      const traceId = hex(16);
      const response = await fetch(`${service.url}/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${hex(8)}-01` },
        body: JSON.stringify({ name: 'Bo', email: `refuse.${traceId}@example.com` }),
      });
      assert.equal(response.status, 201);
      const warning = await service.waitForLine(
        (line) => line.level === 'WARN' && line.trace_id === traceId && line.dependency === 'risk-service',
        5_000,
      );
      const server = await receiver.waitFor((all) =>
        all.find((span) => span.traceId === traceId && span.kind === SERVER),
      );
      assert.equal(warning.span_id, server.spanId);
    });

    it('starts a new trace without traceparent; the problem document, the log line and the spans agree', async () => {
      const response = await fetch(`${service.url}/users/01890a5d-ac96-774b-bcce-b302099a8057`);
      assert.equal(response.status, 404);
      const { trace_id: traceId } = (await response.json()) as { trace_id: string };
      assert.match(traceId, /^[0-9a-f]{32}$/);
      const [server, select] = await receiver.waitFor((all) => {
        const server = all.find((span) => span.traceId === traceId && span.kind === SERVER);
        const select = all.find((span) => span.traceId === traceId && span.name === 'SELECT users');
        return server && select ? [server, select] : undefined;
      });
      assert.equal(server.parentSpanId, '');
      assert.equal(server.name, 'GET /users/:id');
      assert.equal(select.parentSpanId, server.spanId);
      const line = await requestLine(service, traceId);
      assert.equal(line.span_id, server.spanId);
    });

    it('records nothing for a caller that did not sample, yet logs its trace id; probes are not traced', async () => {
      const unsampled = hex(16);
      const response = await fetch(`${service.url}/users?limit=1`, {
        headers: { traceparent: `00-${unsampled}-${hex(8)}-00` },
      });
      assert.equal(response.status, 200);
      await response.arrayBuffer();
      assert.equal((await fetch(`${service.url}/readyz`)).status, 200);
      // A sampled request after them: once its spans are in, the batch holding anything earlier has been sent.
      const marker = hex(16);
      await fetch(`${service.url}/users?limit=2`, { headers: { traceparent: `00-${marker}-${hex(8)}-01` } });
      await receiver.waitFor((all) => all.some((span) => span.traceId === marker && span.kind === SERVER));
      assert.equal(receiver.spans.filter((span) => span.traceId === unsampled).length, 0);
      assert.equal(receiver.spans.filter((span) => span.attributes['url.path'] === '/readyz').length, 0);
      const line = await requestLine(service, unsampled);
      assert.match(String(line.span_id), /^[0-9a-f]{16}$/);
      assert.ok(receiver.contentTypes.every((type) => type.startsWith('application/json')));
    });
  });
}

defineTracingSuite('Tracing: OTLP/HTTP export to an in-test receiver (source, PGlite)', async () => ({
  databaseUrl: 'pglite://memory',
}));

defineTracingSuite(
  'Tracing: the production bundle (esbuild, dist/users/main.mjs) on PostgreSQL',
  async () => {
    const bundle = await buildBundle();
    const database = await createTestDatabase(TEST_DATABASE_URL as string, 'tracing');
    return {
      entry: bundle.entry,
      cwd: bundle.directory,
      databaseUrl: database.url,
      async cleanup() {
        await database.drop();
        await bundle.remove();
      },
    };
  },
  needs('postgres'),
);

/**
 * Builds the bundle with the project's own build script in a scratch copy of the sources (so the repo's dist/ is
 * left alone), with node_modules linked in for the packages the bundle keeps external.
 */
async function buildBundle(): Promise<{ directory: string; entry: string; remove(): Promise<void> }> {
  const directory = await mkdtemp(join(tmpdir(), 'user-service-bundle-'));
  await cp('src', join(directory, 'src'), { recursive: true });
  await cp('scripts/build.ts', join(directory, 'scripts/build.ts'));
  await cp('package.json', join(directory, 'package.json'));
  await symlink(resolve('node_modules'), join(directory, 'node_modules'));
  await promisify(execFile)(process.execPath, ['scripts/build.ts', 'users'], {
    cwd: directory,
    timeout: 120_000,
  });
  return {
    directory,
    entry: join(directory, 'dist/users/main.mjs'),
    remove: () => rm(directory, { recursive: true, force: true }),
  };
}

describe('Tracing off', () => {
  it('is off without an endpoint: request lines carry trace_id but no span_id, and start-up says so', async () => {
    const service = await spawnService({
      env: { DATABASE_URL: 'memory://', LOG_LEVEL: 'info', REQUEST_LOG: 'all' },
    });
    try {
      await service.waitForLine((line) => line.message.startsWith('tracing off'));
      const traceId = hex(16);
      await fetch(`${service.url}/users`, { headers: { traceparent: `00-${traceId}-${hex(8)}-01` } });
      const line = await requestLine(service, traceId);
      assert.equal(line.span_id, undefined);
    } finally {
      await service.stop();
    }
  });
});

describe('Tracing with the collector unreachable', () => {
  it('keeps serving, says so in one WARN line, and still shuts down promptly with exit code 0', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const endpoint = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    closed.close();
    const service = await spawnService({
      env: {
        DATABASE_URL: 'memory://',
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        // Every request recorded, so there is something to fail to export.
        OTEL_TRACES_SAMPLER_ARG: '1',
        OTEL_BSP_SCHEDULE_DELAY: '100',
        LOG_LEVEL: 'info',
      },
    });
    try {
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${service.url}/users`);
        assert.equal(response.status, 200);
        await response.arrayBuffer();
      }
      const warning = await service.waitForLine(
        (line) => line.level === 'WARN' && line.message.startsWith('tracing: spans could not be exported'),
        15_000,
      );
      assert.equal(warning.endpoint, endpoint);
      const started = performance.now();
      assert.equal(await service.stop('SIGTERM'), 0);
      const shutdownMs = Math.round(performance.now() - started);
      console.log(`shutdown with the collector unreachable: ${shutdownMs} ms`);
      assert.ok(shutdownMs < 8_000, `shutdown took ${shutdownMs} ms`);
      const warnings = service.lines.filter((line) => line.message.startsWith('tracing: spans could not'));
      assert.equal(warnings.length, 1, 'repeats are silenced');
    } finally {
      await service.stop();
    }
  });
});
