import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { composeCommand, needs } from '../support/requirements.ts';

// The laptop stack is validated offline (images cannot be pulled here), with `docker compose config`.
const skip = needs('docker-compose');
const command = skip ? undefined : composeCommand();

describe('docker-compose.yml', { skip }, () => {
  it('validates and wires the service to PostgreSQL, Prometheus, Jaeger and Grafana', () => {
    const [binary = 'docker', ...args] = command ?? [];
    const rendered = parse(
      execFileSync(binary, [...args, '-f', 'docker-compose.yml', 'config'], { encoding: 'utf8' }),
    );
    assert.deepEqual(Object.keys(rendered.services).sort(), [
      'grafana',
      'jaeger',
      'postgres',
      'prometheus',
      'users',
    ]);
    const users = rendered.services.users;
    assert.equal(users.build.dockerfile, 'deploy/docker/Dockerfile');
    assert.equal(users.read_only, true);
    assert.match(users.environment.DATABASE_URL, /@postgres:5432\//);
  });

  it('rejects an invalid file, so the check can fail', () => {
    const [binary = 'docker', ...args] = command ?? [];
    assert.throws(() =>
      execFileSync(binary, [...args, '-f', '-', 'config', '-q'], {
        input: 'services:\n  x:\n    ports: 5\n',
        stdio: 'pipe',
      }),
    );
  });
});
