// Deploys one release of the service to one environment, the same way from every pipeline and from a laptop.
//
//   npm run deploy -- --env staging --version v1.2.3 [--dry-run] [--out DIR] [--image-repository REPO]
//                     [--revision SHA] [--timeout 10m|45m] [--force-conflicts] [--with-relay]
//
// --with-relay (what the pipelines pass) also releases the alert relay (deploy/k8s/alert-relay) with the same tag,
// from the same registry (<image repository>/alert-relay), in the same apply. REHEARSAL=1 acts as --dry-run.
// Renders deploy/k8s/overlays/<env> with the image tag and APP_VERSION set to --version, applies it with
// server-side apply and waits for the rollout (`kubectl argo rollouts status` for a Rollout, `kubectl rollout
// status` for a Deployment). --dry-run writes the manifests to a folder instead and talks to no cluster.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  containersOf,
  imageTag,
  type K8sObject,
  PINNED_ENVIRONMENTS,
  renderRelayRelease,
  renderRelease,
  stringifyManifests,
} from '../../deploy/ci/kustomize.ts';
import { durationArgument, environmentArgument, kubectl, runCommand, UsageError } from './common.ts';

const USAGE = `usage:
  npm run deploy -- --env <environment> --version <tag> [--dry-run] [--out DIR] [--image-repository REPO]
                    [--revision SHA] [--timeout 10m|45m] [--force-conflicts] [--with-relay]
Defaults come from DEPLOY_ENV, APP_VERSION, IMAGE_REPOSITORY and REVISION when the flags are absent.
REHEARSAL=1 renders and writes the manifests like --dry-run and applies nothing.`;
/** Docker's rule for a tag. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const FIELD_MANAGER = 'user-service-deploy';
const ROLLOUT_TIMEOUT = '45m';
const DEPLOYMENT_TIMEOUT = '10m';

function run(command: string, args: string[]): Promise<void> {
  console.log(`$ ${command} ${args.join(' ')}`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: 'inherit' });
    child.once('error', (error) => reject(new Error(`${command}: ${error.message}`)));
    child.once('exit', (code, signal) =>
      code === 0
        ? resolvePromise()
        : reject(
            new Error(`${command} ${args.slice(0, 3).join(' ')} ... failed (${signal ?? `exit ${code}`})`),
          ),
    );
  });
}

function versionArgument(value: string | undefined, environment: string): string {
  if (!value) throw new UsageError('--version is required (the image tag, e.g. v1.2.3)');
  if (!TAG.test(value)) throw new UsageError(`--version "${value}" is not a valid image tag`);
  if (value === 'latest' && PINNED_ENVIRONMENTS.has(environment))
    throw new UsageError(
      `refusing to deploy "latest" to ${environment}: ${[...PINNED_ENVIRONMENTS].join(' and ')} run pinned release tags (--version vX.Y.Z)`,
    );
  return value;
}

/** Workloads the deploy waits for: every Rollout, and Deployments that run pods themselves. */
function workloadsToWatch(objects: K8sObject[]): K8sObject[] {
  return objects.filter(
    (object) => object.kind === 'Rollout' || (object.kind === 'Deployment' && object.spec?.replicas !== 0),
  );
}

async function deploy(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      env: { type: 'string', default: process.env.DEPLOY_ENV },
      version: { type: 'string', default: process.env.APP_VERSION },
      'image-repository': { type: 'string', default: process.env.IMAGE_REPOSITORY },
      revision: { type: 'string', default: process.env.REVISION },
      'dry-run': { type: 'boolean', default: false },
      out: { type: 'string' },
      timeout: { type: 'string' },
      'force-conflicts': { type: 'boolean', default: false },
      'with-relay': { type: 'boolean', default: false },
    },
  });
  const environment = await environmentArgument(values.env);
  const version = versionArgument(values.version, environment);
  if (values.timeout) durationArgument(values.timeout);
  const release = {
    environment,
    version,
    ...(values['image-repository'] ? { imageRepository: values['image-repository'] } : {}),
    ...(values.revision ? { revision: values.revision } : {}),
    kubectl,
  };
  const objects = [
    ...(await renderRelease(release)),
    ...(values['with-relay'] ? await renderRelayRelease(release) : []),
  ];
  // Belt and braces: whatever the overlays say, a pinned environment never receives a moving tag.
  const images = containersOf(objects).map(({ container }) => container.image);
  if (PINNED_ENVIRONMENTS.has(environment) && images.some((image) => imageTag(image) === 'latest'))
    throw new Error(`rendered ${environment} still has a latest image: ${images.join(', ')}`);
  const manifests = stringifyManifests(objects);
  console.log(
    `rendered ${objects.length} objects for ${environment}: ${[...new Set(images)].join(', ')} (APP_VERSION=${version})`,
  );

  if (values['dry-run'] || process.env.REHEARSAL === '1') {
    const out = resolve(values.out ?? join('reports', 'deploy', environment));
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'manifests.yaml'), manifests);
    console.log(`dry run: manifests written to ${join(out, 'manifests.yaml')}; nothing applied`);
    return;
  }

  const watched = workloadsToWatch(objects);
  const hasRollout = watched.some((object) => object.kind === 'Rollout');
  // A canary walks its steps (staff pause, two analyses) before it is done; a rolling update takes minutes.
  const timeout = durationArgument(values.timeout ?? (hasRollout ? ROLLOUT_TIMEOUT : DEPLOYMENT_TIMEOUT));
  if (hasRollout) {
    await run(kubectl, ['argo', 'rollouts', 'version']).catch(() => {
      throw new Error(
        `${environment} deploys an Argo Rollout: install the kubectl plugin (kubectl-argo-rollouts) to wait for it`,
      );
    });
  }
  const directory = values.out ? resolve(values.out) : await mkdtemp(join(tmpdir(), 'user-service-deploy-'));
  try {
    await mkdir(directory, { recursive: true });
    const file = join(directory, 'manifests.yaml');
    await writeFile(file, manifests);
    await run(kubectl, [
      'apply',
      '--server-side',
      `--field-manager=${FIELD_MANAGER}`,
      ...(values['force-conflicts'] ? ['--force-conflicts'] : []),
      '-f',
      file,
    ]);
    for (const workload of watched) {
      const namespace = ['--namespace', workload.metadata.namespace ?? 'default'];
      if (workload.kind === 'Rollout')
        await run(kubectl, [
          'argo',
          'rollouts',
          'status',
          workload.metadata.name,
          ...namespace,
          '--timeout',
          timeout.kubectl,
        ]);
      else
        await run(kubectl, [
          'rollout',
          'status',
          `deployment/${workload.metadata.name}`,
          ...namespace,
          `--timeout=${timeout.kubectl}`,
        ]);
    }
    console.log(`deployed ${version} to ${environment}`);
  } finally {
    if (!values.out) await rm(directory, { recursive: true, force: true });
  }
}

runCommand('deploy', USAGE, deploy(process.argv.slice(2)));
