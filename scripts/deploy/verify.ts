// Checks that an environment serves the release after a deploy, from every pipeline and from a laptop.
//
//   npm run deploy:verify -- --env staging [--base-url URL] [--expect-version v1.2.3] [--timeout 120s]
//
// Calls the public URL of the environment (its Ingress host and path) until the service answers: health,
// readiness, one read of the API and, when API docs are on, the version it serves.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { kustomizeBuild, OVERLAYS_DIR, parseManifests, publicUrlOf } from '../../deploy/ci/kustomize.ts';
import { durationArgument, environmentArgument, kubectl, runCommand } from './common.ts';

const USAGE = `usage:
  npm run deploy:verify -- --env <environment> [--base-url URL] [--expect-version TAG] [--timeout 120s]
Defaults come from DEPLOY_ENV and APP_VERSION when the flags are absent.`;

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
  if (process.env.REHEARSAL === '1') {
    console.log(`rehearsal: would verify ${environment} at ${baseUrl}`);
    return;
  }
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

runCommand('deploy:verify', USAGE, verify(process.argv.slice(2)));
