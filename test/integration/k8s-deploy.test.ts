import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseManifests, publicUrlOf } from '../../deploy/ci/kustomize.ts';
import { REPO_ROOT, renderOverlay } from '../support/kubernetes-manifests.ts';
import { kubectlBinary, needs } from '../support/requirements.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const execFileAsync = promisify(execFile);
const skip = needs('kubectl');
const NODE = process.execPath;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function deployScript(args: string[], env: Record<string, string> = {}): Promise<Result> {
  try {
    // `verify` first runs the verify command (npm run deploy:verify), anything else the deploy (npm run deploy).
    const [script, scriptArgs] =
      args[0] === 'verify' ? ['scripts/deploy/verify.ts', args.slice(1)] : ['scripts/deploy/apply.ts', args];
    const { stdout, stderr } = await execFileAsync(NODE, [script, ...scriptArgs], {
      cwd: REPO_ROOT,
      env: { ...process.env, DEPLOY_ENV: '', APP_VERSION: '', IMAGE_REPOSITORY: '', REVISION: '', ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

describe('npm run deploy', { skip }, () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'deploy-test-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('--dry-run writes the overlay with the release tag as image and APP_VERSION, and applies nothing', async () => {
    const out = join(work, 'staging');
    const result = await deployScript([
      '--env',
      'staging',
      '--version',
      'v1.2.3',
      '--revision',
      'abc123',
      '--image-repository',
      'registry.test/team/user-service',
      '--dry-run',
      '--out',
      out,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const objects = parseManifests(await readFile(join(out, 'manifests.yaml'), 'utf8'));
    const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'user-service')!;
    assert.equal(deployment.spec.template.spec.containers[0].image, 'registry.test/team/user-service:v1.2.3');
    assert.equal(deployment.spec.template.metadata.annotations['app.kubernetes.io/revision'], 'abc123');
    const configMap = objects.find(
      (o) =>
        o.kind === 'ConfigMap' &&
        o.metadata.name === deployment.spec.template.spec.containers[0].envFrom[0].configMapRef.name,
    )!;
    assert.equal(configMap.data.APP_VERSION, 'v1.2.3');
    assert.equal(
      deployment.spec.template.spec.containers[0].envFrom[0].configMapRef.name,
      configMap.metadata.name,
    );
    assert.ok(
      objects.every((o) => o.kind === 'Namespace' || o.metadata.namespace === 'user-service-staging'),
    );
    assert.match(result.stdout, /dry run: manifests written to/);
    // The committed overlay is untouched: it still says its own tag.
    assert.match(
      await readFile(join(REPO_ROOT, 'deploy/k8s/overlays/staging/kustomization.yaml'), 'utf8'),
      /newTag: v1\.0\.0/,
    );
  });

  it('takes DEPLOY_ENV and APP_VERSION from the environment when the flags are absent', async () => {
    const out = join(work, 'dev');
    const result = await deployScript(['--dry-run', '--out', out], {
      DEPLOY_ENV: 'dev',
      APP_VERSION: 'latest',
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      await readFile(join(out, 'manifests.yaml'), 'utf8'),
      /image: registry\.example\.com\/platform\/user-service:latest/,
    );
  });

  for (const [args, message] of [
    [['--env', 'prod', '--version', 'latest', '--dry-run'], /refusing to deploy "latest" to prod/],
    [['--env', 'staging', '--version', 'latest', '--dry-run'], /refusing to deploy "latest" to staging/],
    [
      ['--env', 'qa', '--version', 'v1.0.0', '--dry-run'],
      /unknown environment "qa": deploy\/k8s\/overlays has dev, prod, staging/,
    ],
    [['--version', 'v1.0.0', '--dry-run'], /--env is required/],
    [['--env', 'dev', '--dry-run'], /--version is required/],
    [['--env', 'dev', '--version', 'v1/evil', '--dry-run'], /"v1\/evil" is not a valid image tag/],
    [
      ['--env', 'dev', '--version', 'v1', '--timeout', 'soon', '--dry-run'],
      /--timeout "soon" must look like/,
    ],
    [['--env', 'dev', '--version', 'v1', '--colour'], /Unknown option '--colour'/],
  ] as [string[], RegExp][]) {
    it(`refuses ${args.join(' ')} with a clear message and exit 2`, async () => {
      const result = await deployScript(args);
      assert.equal(result.code, 2);
      assert.match(result.stderr, message);
      assert.match(result.stderr, /usage:/);
    });
  }

  describe('against a cluster (kubectl stands in, recording its calls)', () => {
    let stub: string;
    let log: string;
    before(async () => {
      // kustomize goes to the real kubectl; everything else is recorded and succeeds, like a healthy cluster.
      const real = kubectlBinary()!;
      log = join(work, 'kubectl.log');
      stub = join(work, 'kubectl');
      await writeFile(
        stub,
        [
          '#!/bin/sh',
          `if [ "$1" = kustomize ]; then exec "${real}" "$@"; fi`,
          `echo "$*" >> "${log}"`,
          // apply's last argument is the manifest file: keep a copy to inspect.
          `if [ "$1" = apply ]; then for a in "$@"; do last="$a"; done; cp "$last" "${work}/applied.yaml"; fi`,
          '',
        ].join('\n'),
      );
      await chmod(stub, 0o755);
    });

    it('staging: server-side apply, then waits for each Deployment (the service and its Collector)', async () => {
      await rm(log, { force: true });
      const result = await deployScript(['--env', 'staging', '--version', 'v2.0.0'], { KUBECTL: stub });
      assert.equal(result.code, 0, result.stderr);
      const calls = (await readFile(log, 'utf8')).trim().split('\n');
      assert.equal(calls.length, 3, calls.join('\n'));
      assert.match(
        calls[0]!,
        /^apply --server-side --field-manager=user-service-deploy -f \S+manifests\.yaml$/,
      );
      assert.deepEqual(calls.slice(1).sort(), [
        'rollout status deployment/otel-collector --namespace user-service-staging --timeout=10m',
        'rollout status deployment/user-service --namespace user-service-staging --timeout=10m',
      ]);
      const applied = parseManifests(await readFile(join(work, 'applied.yaml'), 'utf8'));
      assert.equal(
        applied.find((o) => o.kind === 'Deployment' && o.metadata.name === 'user-service')!.spec.template.spec
          .containers[0].image,
        'registry.example.com/platform/user-service:v2.0.0',
      );
    });

    it('prod: checks the Argo Rollouts plugin, applies, and waits for the Rollout (not the scaled-down Deployment)', async () => {
      await rm(log, { force: true });
      const result = await deployScript(['--env', 'prod', '--version', 'v2.0.0', '--force-conflicts'], {
        KUBECTL: stub,
      });
      assert.equal(result.code, 0, result.stderr);
      const calls = (await readFile(log, 'utf8')).trim().split('\n');
      assert.deepEqual(
        calls.map((call) => call.split(' ').slice(0, 3).join(' ')),
        [
          'argo rollouts version',
          'apply --server-side --field-manager=user-service-deploy',
          'rollout status deployment/otel-collector',
          'argo rollouts status',
        ],
      );
      assert.match(calls[1]!, /--force-conflicts/);
      assert.equal(calls[3], 'argo rollouts status user-service --namespace user-service --timeout 45m');
    });

    it('a failed apply fails the deploy', async () => {
      const failing = join(work, 'kubectl-failing');
      await writeFile(
        failing,
        `#!/bin/sh\nif [ "$1" = kustomize ]; then exec "${kubectlBinary()}" "$@"; fi\necho "conflict" >&2\nexit 1\n`,
      );
      await chmod(failing, 0o755);
      const result = await deployScript(['--env', 'dev', '--version', 'latest'], { KUBECTL: failing });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /deploy: .*apply --server-side .*failed \(exit 1\)/);
    });
  });
});

describe('npm run deploy:verify', { skip }, () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp('memory://');
  });
  after(async () => {
    await app?.close();
  });

  it('passes when the service answers its probes, its API and the expected version', async () => {
    const result = await deployScript([
      'verify',
      '--env',
      'dev',
      '--base-url',
      app.url,
      '--expect-version',
      'test',
    ]);
    assert.equal(result.code, 0, result.stderr);
    for (const check of ['GET /healthz', 'GET /readyz', 'GET /users?limit=1', 'version test'])
      assert.match(result.stdout, new RegExp(`ok   ${check.replace(/[?]/g, '\\?')}`));
  });

  it('fails by its deadline when a different version answers', async () => {
    const started = Date.now();
    const result = await deployScript([
      'verify',
      '--env',
      'dev',
      '--base-url',
      app.url,
      '--expect-version',
      'v9.9.9',
      '--timeout',
      '2s',
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /version v9\.9\.9: serves version test/);
    assert.ok(Date.now() - started < 20_000);
  });

  it('without --base-url, calls the https URL of the overlay Ingress (host and path prefix)', async () => {
    assert.equal(publicUrlOf(await renderOverlay('staging')), 'https://api.staging.example.com/user-service');
    assert.equal(publicUrlOf(await renderOverlay('prod')), 'https://api.example.com/user-service');
  });
});
