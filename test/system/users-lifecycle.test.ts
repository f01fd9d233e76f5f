import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { describe, it } from 'node:test';
import { spawnService } from '../support/spawn-service.ts';

/** Sends a POST whose body arrives in two parts, resolving once the server has accepted the request. */
function startSlowUpload(url: string, body: string) {
  const target = new URL('/users', url);
  const request = http.request(target, {
    method: 'POST',
    agent: false,
    headers: {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      expect: '100-continue',
    },
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    request.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    request.on('error', reject);
  });
  const half = Math.floor(body.length / 2);
  // The 100 Continue proves the server parsed the headers: the request is in flight from here on.
  const accepted = once(request, 'continue').then(() => {
    request.write(body.slice(0, half));
  });
  request.flushHeaders();
  return { accepted, finish: () => request.end(body.slice(half)), response };
}

describe('users service process lifecycle', () => {
  it('drains on SIGTERM: readiness 503, in-flight request completes, new connections refused, exit 0', async () => {
    const service = await spawnService({
      env: { DATABASE_URL: 'memory://', SHUTDOWN_DELAY_MS: '300', SHUTDOWN_TIMEOUT_MS: '10000' },
    });
    try {
      assert.equal((await fetch(`${service.url}/readyz`)).status, 200);
      const upload = startSlowUpload(
        service.url,
        JSON.stringify({ name: 'Slow Client', email: 'slow@example.com' }),
      );
      await upload.accepted;

      service.child.kill('SIGTERM');
      await service.waitForLine((line) => line.message === 'shutdown started: draining');
      const readiness = await fetch(`${service.url}/readyz`, { headers: { connection: 'close' } });
      assert.equal(readiness.status, 503);
      const report = (await readiness.json()) as { checks: Record<string, { status: string }> };
      assert.equal(report.checks.shutdown?.status, 'fail');

      await service.waitForLine((line) => line.message.startsWith('stopped accepting connections'));
      await assert.rejects(
        fetch(`${service.url}/healthz`, {
          headers: { connection: 'close' },
          signal: AbortSignal.timeout(5_000),
        }),
        (error: Error & { cause?: { code?: string } }) => error.cause?.code === 'ECONNREFUSED',
        'a request on a new connection after the drain is refused',
      );

      upload.finish();
      const completed = await upload.response;
      assert.equal(completed.status, 201, completed.body);
      assert.equal(JSON.parse(completed.body).email, 'slow@example.com');

      assert.equal(await service.exited, 0);
      const done = await service.waitForLine((line) => line.message === 'shutdown complete');
      assert.equal(done.exit_code, 0);
    } finally {
      await service.stop('SIGKILL');
    }
  });

  it('stops start-up with one line naming the key, the problem and the origin of a bad value', async () => {
    const child = spawn(process.execPath, ['src/services/users/main.ts'], {
      env: { ...process.env, PORT: 'eighty', NODE_ENV: 'test' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      stderr += chunk;
    });
    const [code] = await once(child, 'exit');
    assert.equal(code, 1);
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, stderr);
    const line = JSON.parse(lines[0] ?? '{}');
    assert.equal(line.level, 'ERROR');
    assert.equal(line.key, 'PORT');
    assert.match(line.message, /PORT must be an integer >= 0, <= 65535 \(got "eighty" from environment\)/);
  });

  it('logs the effective configuration at start with secrets redacted', async () => {
    const service = await spawnService({
      env: { DATABASE_URL: 'memory://', DATABASE_PASSWORD: 'hunter2-secret', LOG_LEVEL: 'info' },
    });
    try {
      const line = await service.waitForLine((entry) => entry.message === 'configuration loaded');
      const config = line.config as Record<string, { value: unknown; origin: string }>;
      assert.deepEqual(config.DATABASE_PASSWORD, { value: '[REDACTED]', origin: 'environment' });
      assert.deepEqual(config.PORT, { value: 0, origin: 'environment' });
      assert.equal(JSON.stringify(service.lines).includes('hunter2-secret'), false);
    } finally {
      assert.equal(await service.stop(), 0);
    }
  });
});
