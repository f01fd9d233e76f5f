import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { spawnService } from '../support/spawn-service.ts';

/** Whether anything accepts a TCP connection on the loopback port. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

// A supervisor, `timeout` or compose stops `npm start` by signalling npm's own pid: the signal must reach node
// (no shell in between) and npm must exit with node's code.
const SERVER_SCRIPTS: { script: string; prepare?: () => void }[] = [
  { script: 'start' },
  { script: 'start:prod', prepare: () => execFileSync('npm', ['run', '--silent', 'build', '--', 'users']) },
];

for (const { script, prepare } of SERVER_SCRIPTS) {
  describe(`npm run ${script} stopped with SIGTERM`, () => {
    it('drains, exits 0 and frees the port', async () => {
      prepare?.();
      const service = await spawnService({
        command: ['npm', 'run', script],
        env: { DATABASE_URL: 'memory://', npm_config_update_notifier: 'false' },
        detached: true,
      });
      // Ends a node orphaned by a failing run, so it does not keep serving after the test.
      after(() => {
        try {
          process.kill(-service.child.pid!, 'SIGKILL');
        } catch {}
      });
      const ready = await fetch(`${service.url}/readyz`);
      assert.equal(ready.status, 200);

      const code = await service.stop('SIGTERM');

      assert.equal(code, 0, `npm exited ${code}; stderr: ${service.stderr.join('\n')}`);
      assert.ok(
        service.lines.some((line) => line.message === 'shutdown complete'),
        'node itself received the signal and drained',
      );
      assert.equal(await answers(service.port), false, 'nothing serves the port after npm exits');
    });
  });
}
