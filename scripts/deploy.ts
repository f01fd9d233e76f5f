// Deploys one release of the service to one environment, the same way from every pipeline and from a laptop.
//
//   npm run deploy -- --env staging --version v1.2.3 [--dry-run] [--out DIR] [--image-repository REPO]
//                     [--revision SHA] [--timeout 10m|45m] [--force-conflicts]
//   npm run deploy:verify -- --env staging [--base-url URL] [--expect-version v1.2.3] [--timeout 120s]
//
// Deploy renders deploy/k8s/overlays/<env> with the image tag and APP_VERSION set to --version, applies it with
// server-side apply and waits for the rollout (`kubectl argo rollouts status` for a Rollout, `kubectl rollout
// status` for a Deployment). --dry-run writes the manifests to a folder instead and talks to no cluster.
// Verify calls the public URL of the environment (its Ingress host and path) until the service answers.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  containersOf,
  imageTag,
  type K8sObject,
  kustomizeBuild,
  listOverlays,
  OVERLAYS_DIR,
  PINNED_ENVIRONMENTS,
  parseManifests,
  publicUrlOf,
  renderRelease,
  stringifyManifests,
} from '../deploy/ci/kustomize.ts';

const USAGE = `usage:
  npm run deploy -- --env <environment> --version <tag> [--dry-run] [--out DIR] [--image-repository REPO]
                    [--revision SHA] [--timeout 10m|45m] [--force-conflicts]
  npm run deploy:verify -- --env <environment> [--base-url URL] [--expect-version TAG] [--timeout 120s]
Defaults come from DEPLOY_ENV, APP_VERSION, IMAGE_REPOSITORY and REVISION when the flags are absent.`;
/** Docker's rule for a tag. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const FIELD_MANAGER = 'user-service-deploy';
const ROLLOUT_TIMEOUT = '45m';
const DEPLOYMENT_TIMEOUT = '10m';
const kubectl = process.env.KUBECTL ?? 'kubectl';

class UsageError extends Error {}

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

async function environmentArgument(value: string | undefined): Promise<string> {
  const environments = await listOverlays();
  if (!value) throw new UsageError(`--env is required (one of ${environments.join(', ')})`);
  if (!environments.includes(value))
    throw new UsageError(
      `unknown environment "${value}": deploy/k8s/overlays has ${environments.join(', ')}`,
    );
  return value;
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

/** `90s`, `15m`, `1h` for kubectl's --timeout; plain seconds for verify. */
function durationArgument(value: string): { kubectl: string; ms: number } {
  const match = /^(\d+)(s|m|h)$/.exec(value);
  if (!match) throw new UsageError(`--timeout "${value}" must look like 90s, 15m or 1h`);
  const ms = Number(match[1]) * { s: 1_000, m: 60_000, h: 3_600_000 }[match[2] as 's' | 'm' | 'h'];
  return { kubectl: value, ms };
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
    },
  });
  const environment = await environmentArgument(values.env);
  const version = versionArgument(values.version, environment);
  if (values.timeout) durationArgument(values.timeout);
  const objects = await renderRelease({
    environment,
    version,
    ...(values['image-repository'] ? { imageRepository: values['image-repository'] } : {}),
    ...(values.revision ? { revision: values.revision } : {}),
    kubectl,
  });
  // Belt and braces: whatever the overlays say, a pinned environment never receives a moving tag.
  const images = containersOf(objects).map(({ container }) => container.image);
  if (PINNED_ENVIRONMENTS.has(environment) && images.some((image) => imageTag(image) === 'latest'))
    throw new Error(`rendered ${environment} still has a latest image: ${images.join(', ')}`);
  const manifests = stringifyManifests(objects);
  console.log(
    `rendered ${objects.length} objects for ${environment}: ${[...new Set(images)].join(', ')} (APP_VERSION=${version})`,
  );

  if (values['dry-run']) {
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

interface Check {
  name: string;
  run(baseUrl: string): Promise<string | undefined>;
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, {
    signal: AbortSignal.timeout(5_000),
    headers: { accept: 'application/json' },
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: response.status, body };
}

function checks(expectVersion: string | undefined): Check[] {
  const status200 = (path: string): Check => ({
    name: `GET ${path}`,
    async run(baseUrl) {
      const { status } = await getJson(`${baseUrl}${path}`);
      return status === 200 ? undefined : `answered ${status}`;
    },
  });
  const list: Check[] = [
    status200('/healthz'),
    status200('/readyz'),
    {
      name: 'GET /users?limit=1',
      async run(baseUrl) {
        const { status, body } = await getJson(`${baseUrl}/users?limit=1`);
        if (status !== 200) return `answered ${status}`;
        return Array.isArray((body as { items?: unknown }).items) ? undefined : 'no items array in the body';
      },
    },
  ];
  if (expectVersion) {
    list.push({
      name: `version ${expectVersion}`,
      async run(baseUrl) {
        const { status, body } = await getJson(`${baseUrl}/openapi.json`);
        if (status === 404) return undefined; // API docs are off in this environment: nothing to compare.
        const version = (body as { info?: { version?: string } }).info?.version;
        return version === expectVersion ? undefined : `serves version ${version}`;
      },
    });
  }
  return list;
}

async function verify(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      env: { type: 'string', default: process.env.DEPLOY_ENV },
      'base-url': { type: 'string' },
      'expect-version': { type: 'string', default: process.env.APP_VERSION },
      timeout: { type: 'string', default: '120s' },
    },
  });
  const environment = await environmentArgument(values.env);
  const deadline = Date.now() + durationArgument(values.timeout).ms;
  const baseUrl = (
    values['base-url'] ??
    publicUrlOf(parseManifests(await kustomizeBuild(join(OVERLAYS_DIR, environment), kubectl)))
  ).replace(/\/$/, '');
  const expectVersion = values['expect-version'] === 'latest' ? undefined : values['expect-version'];
  console.log(`verifying ${environment} at ${baseUrl}`);
  const pending = checks(expectVersion);
  let failures: string[] = [];
  for (;;) {
    failures = [];
    for (const check of [...pending]) {
      const problem = await check
        .run(baseUrl)
        .catch((error: Error) => error.cause?.toString() ?? error.message);
      if (problem === undefined) {
        console.log(`ok   ${check.name}`);
        pending.splice(pending.indexOf(check), 1);
      } else failures.push(`${check.name}: ${problem}`);
    }
    if (pending.length === 0) break;
    if (Date.now() >= deadline)
      throw new Error(`verification of ${environment} failed:\n  ${failures.join('\n  ')}`);
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 1_000));
  }
  console.log(`${environment} verified`);
}

const [first, ...rest] = process.argv.slice(2);
const command = first === 'verify' ? verify(rest) : deploy(first === 'deploy' ? rest : process.argv.slice(2));
command.catch((error: Error) => {
  const usage =
    error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  console.error(`deploy: ${error.message}`);
  if (usage) console.error(USAGE);
  process.exitCode = usage ? 2 : 1;
});
