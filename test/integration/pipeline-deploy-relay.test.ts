import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { containersOf, parseManifests } from '../../deploy/ci/kustomize.ts';
import { REPO_ROOT } from '../support/kubernetes-manifests.ts';
import { kubectlBinary, needs } from '../support/requirements.ts';

// What the pipelines run: `npm run deploy -- ... --with-relay`, and the same under REHEARSAL=1.

/** The deploy script reads these when flags are absent; a pipeline sets them for its own jobs, not for this test. */
function withoutReleaseVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of ['DEPLOY_ENV', 'APP_VERSION', 'IMAGE_REPOSITORY', 'REVISION', 'REHEARSAL'])
    delete copy[name];
  return copy;
}

describe('deploy with the alert relay', { skip: needs('kubectl') }, () => {
  const work = mkdtempSync(join(tmpdir(), 'deploy-relay-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  function deploy(args: string[], env: Record<string, string> = {}) {
    const result = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/deploy/apply.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { ...withoutReleaseVariables(process.env), ...env },
      encoding: 'utf8',
    });
    return { code: result.status, output: `${result.stdout}${result.stderr}` };
  }

  it('--with-relay releases both services with one tag from one registry', () => {
    const out = join(work, 'staging');
    const { code, output } = deploy([
      '--env',
      'staging',
      '--version',
      'v4.5.6',
      '--image-repository',
      'ghcr.io/acme/user-service',
      '--with-relay',
      '--dry-run',
      '--out',
      out,
    ]);
    assert.equal(code, 0, output);
    const objects = parseManifests(readFileSync(join(out, 'manifests.yaml'), 'utf8'));
    const images = new Set(containersOf(objects).map(({ container }) => container.image));
    assert.ok(images.has('ghcr.io/acme/user-service:v4.5.6'), [...images].join(', '));
    assert.ok(images.has('ghcr.io/acme/user-service/alert-relay:v4.5.6'), [...images].join(', '));
    const relayConfig = objects.find(
      (object) => object.kind === 'ConfigMap' && object.metadata.name.startsWith('alert-relay-config'),
    );
    assert.equal(relayConfig?.data.APP_VERSION, 'v4.5.6');
  });

  it('without a registry override the relay comes from the overlay registry, not a bare name', () => {
    const out = join(work, 'dev');
    const { code, output } = deploy([
      '--env',
      'dev',
      '--version',
      'latest',
      '--with-relay',
      '--dry-run',
      '--out',
      out,
    ]);
    assert.equal(code, 0, output);
    const images = containersOf(parseManifests(readFileSync(join(out, 'manifests.yaml'), 'utf8'))).map(
      ({ container }) => container.image,
    );
    assert.ok(
      images.includes('registry.example.com/platform/user-service/alert-relay:latest'),
      images.join(', '),
    );
  });

  it('REHEARSAL=1 renders and writes the manifests but calls no cluster', () => {
    // Any kubectl call other than kustomize fails, like a machine with no cluster.
    const stub = join(work, 'kubectl');
    writeFileSync(
      stub,
      `#!/bin/sh\nif [ "$1" = kustomize ]; then exec "${kubectlBinary()}" "$@"; fi\necho "no cluster" >&2\nexit 1\n`,
    );
    chmodSync(stub, 0o755);
    const out = join(work, 'rehearsal');
    const { code, output } = deploy(['--env', 'prod', '--version', 'v1.0.0', '--with-relay', '--out', out], {
      REHEARSAL: '1',
      KUBECTL: stub,
    });
    assert.equal(code, 0, output);
    assert.match(output, /nothing applied/);
    assert.match(readFileSync(join(out, 'manifests.yaml'), 'utf8'), /alert-relay:v1\.0\.0/);
  });
});
