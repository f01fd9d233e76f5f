// Pipeline rehearsal: runs the jobs of .gitlab-ci.yml, .github/workflows/*.yml and the Jenkinsfile, each job's own
// steps in order, in a clean clone of HEAD inside a clean container, and reports per job (Jenkins: per stage)
// whether it passed and how long it took.
//
//   npm run ci:rehearse [-- --pipeline gitlab|github|jenkins] [--job NAME] [--file PATH] [--deploy-env dev]
//                         [--app-version TAG] [--keep] [--summary reports/rehearsal.json] [--work-dir DIR]
//
// Containers come from scripts/ci/rehearsal-image.sh: a Debian bookworm root filesystem from the Debian mirror
// with Node 24 and npm (the stand-in for node:24.21.0-bookworm-slim) and, for GitHub jobs without a container,
// the same plus a runner's Docker CLI, git and curl. Nothing else is in them: every tool a job calls it must
// install itself, from apt (reachable here) or its pinned download. Each container gets the host's Docker socket,
// network and PID namespace, as the docker-host runners do. What cannot be real offline is replaced, and listed in the report:
// REHEARSAL=1 (registry login and pushes, cluster apply and verify become dry runs), TRIVY_REQUIRED=0 (Trivy and
// its database need the internet), kubectl from a loopback mirror of the machine's kubectl (the download and
// checksum steps still run), base images from scripts/docker/make-base-images.sh, PostgreSQL on a free port, and
// npm's advisory service: this network's proxy refuses npm audit's bulk advisory request (405), so `npm run
// audit:prod` asks a loopback double of that endpoint instead (NPM_AUDIT_REGISTRY, scripts/ci/rehearsal/
// advisory-double.ts). The double reports no advisories: the audit jobs rehearse their steps and the gate's pass
// path, not the real advisory database (test/integration/npm-audit-gate.test.ts shows the gate failing on HIGH).
import { execFileSync, spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AdvisoryDouble } from './rehearsal/advisory-double.ts';
import {
  githubJobs,
  gitlabJobs,
  type Job,
  jenkinsJob,
  type PipelineName,
  type Release,
  shellQuote,
} from './rehearsal/pipelines.ts';

const REPO_ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const KUBECTL_VERSION = 'v1.32.4';

export interface StepResult {
  name: string;
  group?: string;
  code: number | undefined;
  seconds: number;
}
export interface JobResult {
  pipeline: PipelineName;
  job: string;
  passed: boolean;
  seconds: number;
  steps: StepResult[];
  log: string;
}

const sh = (command: string, args: string[], cwd = REPO_ROOT) =>
  execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
    server.once('error', reject);
  });
}

/** dl.k8s.io's layout for the pinned kubectl, served on loopback from the machine's own binary. */
async function kubectlMirror(directory: string): Promise<{ url: string; server: Server }> {
  const kubectl = sh('bash', ['-c', 'readlink -f "$(command -v kubectl)"']);
  const path = join(directory, KUBECTL_VERSION, 'bin', 'linux', 'amd64');
  mkdirSync(path, { recursive: true });
  await cp(kubectl, join(path, 'kubectl'));
  writeFileSync(join(path, 'kubectl.sha256'), sh('sha256sum', [join(path, 'kubectl')]).split(' ')[0]!);
  const server = createServer((request, response) => {
    const file = join(directory, decodeURIComponent(new URL(request.url!, 'http://x').pathname));
    if (!file.startsWith(directory) || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-length': statSync(file).size });
    createReadStream(file).pipe(response);
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, server };
}

/**
 * Stand-ins that change what the repo's scripts do. Test steps run without them, so the suites see the
 * environment they see in CI (a suite that runs the deploy script must not find it in rehearsal mode).
 */
export const WITHHELD_FROM_TESTS = ['REHEARSAL', 'TRIVY_REQUIRED', 'NPM_AUDIT_REGISTRY'];
const isTestStep = (script: string) => /\bnpm\s+(?:run\s+)?test\b/.test(script);

/**
 * The job's steps as one bash driver that records each step's start and end in RESULTS. A stand-in wins over the
 * same key in a step's or stage's own environment (Jenkins' `environment { TRIVY_REQUIRED = '1' }`), as it does over
 * the job's.
 */
export function driverScript(
  job: Job,
  workspace: string,
  results: string,
  env: Record<string, string>,
  standIns: readonly string[] = [],
): string {
  const out = [
    '#!/bin/bash',
    `RESULTS=${shellQuote(results)}`,
    'mark() { printf "%s %s %s\\n" "$1" "$2" "$(date +%s.%N)" >>"$RESULTS"; }',
    `cd ${shellQuote(workspace)} || exit 1`,
    ...Object.entries(env).map(([key, value]) => `export ${key}=${shellQuote(value)}`),
  ];
  if (job.pipeline === 'gitlab') {
    // GitLab runs the script lines in one shell: exports carry over, the first failure ends the job.
    out.push('set -eo pipefail', "trap 'mark end $?' EXIT");
    for (const [index, step] of job.steps.entries()) {
      const line = isTestStep(step.script)
        ? `(unset ${WITHHELD_FROM_TESTS.join(' ')}\n${step.script}\n)`
        : step.script;
      out.push(`mark start ${index}`, line, `mark done ${index}:0`);
    }
    return `${out.join('\n')}\n`;
  }
  out.push(
    'export GITHUB_ENV=/tmp/rehearsal-github-env GITHUB_PATH=/tmp/rehearsal-github-path',
    ': >"$GITHUB_ENV"; : >"$GITHUB_PATH"',
    'failed=0',
  );
  for (const [index, step] of job.steps.entries()) {
    const file = `/tmp/rehearsal-step-${index}.sh`;
    const command = step.shell === 'sh' ? `sh -xe ${file}` : `bash --noprofile --norc -e ${file}`;
    const exports = Object.entries(step.env)
      .filter(([key]) => !standIns.includes(key))
      .map(([key, value]) => `export ${key}=${shellQuote(value)}; `);
    if (isTestStep(step.script)) exports.unshift(`unset ${WITHHELD_FROM_TESTS.join(' ')}; `);
    out.push(
      `cat >${file} <<'REHEARSAL_STEP_${index}'\n${step.script}\nREHEARSAL_STEP_${index}`,
      `if [ "$failed" = 0 ]${step.always ? ' || true' : ''}; then`,
      `  mark start ${index}`,
      `  (${exports.join('')}${command}); code=$?`,
      `  mark done ${index}:$code`,
      '  [ "$code" = 0 ] || failed=1',
      // GitHub: what a step appends to GITHUB_ENV / GITHUB_PATH holds for the steps after it.
      '  while IFS= read -r line; do [ -n "$line" ] && export "$line"; done <"$GITHUB_ENV"; : >"$GITHUB_ENV"',
      '  while IFS= read -r line; do [ -n "$line" ] && PATH="$line:$PATH"; done <"$GITHUB_PATH"; : >"$GITHUB_PATH"',
      'fi',
    );
  }
  out.push('mark end $failed', 'exit $failed');
  return `${out.join('\n')}\n`;
}

/** Per-step outcome from the driver's marks; a step that started and never finished failed with the job's code. */
export function parseResults(job: Job, text: string, exitCode: number): StepResult[] {
  const started = new Map<number, number>();
  const finished = new Map<number, { code: number; time: number }>();
  let endCode: number | undefined;
  let endTime: number | undefined;
  for (const line of text.trim().split('\n')) {
    const [kind, what = '', time = '0'] = line.split(' ');
    if (kind === 'start') started.set(Number(what), Number(time));
    if (kind === 'done') {
      const [index, code] = what.split(':').map(Number);
      finished.set(index!, { code: code!, time: Number(time) });
    }
    if (kind === 'end') {
      endCode = Number(what);
      endTime = Number(time);
    }
  }
  const results: StepResult[] = [];
  for (const [index, startedAt] of started) {
    const step = job.steps[index]!;
    const end = finished.get(index) ?? { code: endCode || exitCode || 1, time: endTime ?? startedAt };
    results.push({
      name: step.name,
      ...(step.group ? { group: step.group } : {}),
      code: end.code,
      seconds: end.time - startedAt,
    });
  }
  if (exitCode !== 0 && !results.some((result) => result.code !== 0))
    results.push({ name: '(job container)', code: exitCode, seconds: 0 });
  return results;
}

interface RunSettings {
  runDirectory: string;
  jobImage: string;
  vmImage: string;
  overrides: Record<string, string>;
  release: Omit<Release, 'workspace'>;
  timeoutMs: number;
}

async function runJob(job: Job, settings: RunSettings, artifactStore: string): Promise<JobResult> {
  const jobDirectory = join(settings.runDirectory, `${job.pipeline}-${job.name.replaceAll(/[^\w.-]/g, '_')}`);
  const workspace = join(jobDirectory, 'workspace');
  const meta = join(jobDirectory, 'meta');
  mkdirSync(meta, { recursive: true });
  sh('git', ['-c', 'advice.detachedHead=false', 'clone', '--quiet', '--no-hardlinks', REPO_ROOT, workspace]);
  sh('git', [
    '-C',
    workspace,
    '-c',
    'advice.detachedHead=false',
    'checkout',
    '--quiet',
    '--detach',
    settings.release.commit,
  ]);
  if (existsSync(artifactStore)) await cp(artifactStore, workspace, { recursive: true });
  const results = join(meta, 'results');
  writeFileSync(results, '');
  const env = { ...job.env, ...settings.overrides };
  writeFileSync(
    join(meta, 'driver.sh'),
    driverScript(job, workspace, results, env, Object.keys(settings.overrides)),
  );
  const log = join(meta, 'log');
  const image = job.runner === 'vm' ? settings.vmImage : settings.jobImage;
  const name = `rehearsal-${process.pid}-${job.pipeline}-${job.name.replaceAll(/[^\w.-]/g, '_')}`;
  const started = performance.now();
  const code = await new Promise<number>((resolveCode) => {
    const child = spawn(
      'docker',
      [
        'run',
        '--rm',
        '--name',
        name,
        '--network',
        'host',
        '--pid',
        'host',
        '-v',
        '/var/run/docker.sock:/var/run/docker.sock',
        '-v',
        `${jobDirectory}:${jobDirectory}`,
        '-e',
        'HOME=/root',
        image,
        'bash',
        join(meta, 'driver.sh'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
    const timer = setTimeout(() => spawn('docker', ['kill', name], { stdio: 'ignore' }), settings.timeoutMs);
    child.once('close', (exitCode) => {
      clearTimeout(timer);
      writeFileSync(log, Buffer.concat(output));
      resolveCode(exitCode ?? 1);
    });
  });
  const seconds = (performance.now() - started) / 1000;
  for (const path of job.artifacts) {
    const source = join(workspace, path);
    if (existsSync(source)) await cp(source, join(artifactStore, path), { recursive: true });
  }
  const steps = parseResults(job, readFileSync(results, 'utf8'), code);
  return { pipeline: job.pipeline, job: job.name, passed: code === 0, seconds, steps, log };
}

export function jobsOf(pipeline: PipelineName, file: string | undefined, release: Release): Job[] {
  if (pipeline === 'gitlab')
    return gitlabJobs(readFileSync(resolve(REPO_ROOT, file ?? '.gitlab-ci.yml'), 'utf8'), release);
  if (pipeline === 'jenkins')
    return [jenkinsJob(readFileSync(resolve(REPO_ROOT, file ?? 'Jenkinsfile'), 'utf8'), release)];
  // Workflows called by others (workflow_call) run as part of their caller.
  return githubJobs(file ?? '.github/workflows/ci.yml', REPO_ROOT, release);
}

const DUMMY_KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{name: rehearsal, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: rehearsal, user: {token: "it's \\"quoted\\" and has a $dollar"}}]
contexts: [{name: rehearsal, context: {cluster: rehearsal, user: rehearsal}}]
current-context: rehearsal
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pipeline: { type: 'string', multiple: true },
      job: { type: 'string' },
      file: { type: 'string' },
      'deploy-env': { type: 'string', default: 'dev' },
      'app-version': { type: 'string' },
      'timeout-minutes': { type: 'string', default: '60' },
      keep: { type: 'boolean', default: false },
      summary: { type: 'string', default: join(REPO_ROOT, 'reports', 'rehearsal.json') },
      // Job containers mount their directory at the same path through the Docker engine, so it must be a path the
      // engine sees: when the rehearsal itself runs in a container, a folder of the (shared) checkout.
      'work-dir': { type: 'string', default: tmpdir() },
    },
  });
  const pipelines = (values.pipeline ?? ['gitlab', 'github', 'jenkins']) as PipelineName[];
  for (const pipeline of pipelines)
    if (!['gitlab', 'github', 'jenkins'].includes(pipeline)) throw new Error(`unknown pipeline ${pipeline}`);
  if (values.file && pipelines.length !== 1) throw new Error('--file needs exactly one --pipeline');
  const commit = sh('git', ['rev-parse', 'HEAD']);
  mkdirSync(values['work-dir'], { recursive: true });
  const runDirectory = await mkdtemp(join(resolve(values['work-dir']), 'user-service-rehearsal-'));
  const kubeconfigFile = join(runDirectory, 'kubeconfig');
  writeFileSync(kubeconfigFile, DUMMY_KUBECONFIG);
  const release = {
    commit,
    deployEnv: values['deploy-env'],
    appVersion: values['app-version'] ?? `rehearsal-${commit.slice(0, 8)}`,
    secrets: {
      REGISTRY_PASSWORD: "rehearsal-pa$$word-with-'quotes'",
      KUBECONFIG: DUMMY_KUBECONFIG,
      KUBECONFIG_FILE: kubeconfigFile,
    },
  };
  const [jobImage, vmImage] = sh('bash', ['scripts/ci/rehearsal-image.sh']).split(' ') as [string, string];
  const baseImages = sh('bash', ['scripts/docker/make-base-images.sh']);
  const mirror = await kubectlMirror(join(runDirectory, 'kubectl-mirror'));
  const advisories = await new AdvisoryDouble().start();
  const overrides: Record<string, string> = {
    REHEARSAL: '1',
    TRIVY_REQUIRED: '0',
    DOCKER_BUILD_ARGS: `${baseImages} --network host`,
    KUBECTL_BASE_URL: mirror.url,
    PG_TEST_PORT: String(await freePort()),
    JOB_IMAGE: jobImage,
    JOB_ENV: 'PG_TEST_PORT KUBECTL_BASE_URL TRIVY_REQUIRED DOCKER_BUILD_ARGS',
    DOCKER_BUILDKIT: '0',
    NPM_AUDIT_REGISTRY: advisories.url,
  };
  console.log(`rehearsal of ${commit.slice(0, 12)} in ${runDirectory}`);
  console.log(`images: job ${jobImage}, runner ${vmImage}`);
  console.log(
    `stand-ins: ${Object.entries(overrides)
      .map(([key, value]) => `${key}=${value}`)
      .join(' ')}`,
  );
  console.log(`npm audit: advisory service is a loopback double answering no advisories (${advisories.url})`);
  const results: JobResult[] = [];
  try {
    for (const pipeline of pipelines) {
      let jobs = jobsOf(pipeline, values.file, { ...release, workspace: '' });
      if (values.job) {
        jobs = jobs.filter((job) => job.name === values.job);
        if (jobs.length === 0) throw new Error(`${pipeline} has no job ${values.job}`);
      }
      const artifactStore = join(runDirectory, `${pipeline}-artifacts`);
      for (const template of jobs) {
        const jobDirectory = join(runDirectory, `${pipeline}-${template.name.replaceAll(/[^\w.-]/g, '_')}`);
        // The checkout path is known once the job has a directory: re-read the job with it.
        const job = jobsOf(pipeline, values.file, {
          ...release,
          workspace: join(jobDirectory, 'workspace'),
        }).find((candidate) => candidate.name === template.name)!;
        // The CI system would not start this job; the rehearsal runs it anyway, to see every job, and says so.
        const failedNeeds = job.needs.filter((need) =>
          results.some((result) => result.pipeline === pipeline && result.job === need && !result.passed),
        );
        process.stdout.write(
          `${pipeline} ${job.name}${failedNeeds.length > 0 ? ` (after failed ${failedNeeds.join(', ')})` : ''} ... `,
        );
        const result = await runJob(
          job,
          {
            runDirectory,
            jobImage,
            vmImage,
            overrides,
            release,
            timeoutMs: Number(values['timeout-minutes']) * 60_000,
          },
          artifactStore,
        );
        results.push(result);
        console.log(`${result.passed ? 'pass' : 'FAIL'} (${result.seconds.toFixed(0)} s)`);
        for (const step of result.steps)
          if (step.code !== 0 || pipeline === 'jenkins')
            console.log(
              `    ${step.code === 0 ? 'ok  ' : `exit ${step.code}`} ${step.seconds.toFixed(0).padStart(4)} s  ${step.group ? `[${step.group}] ` : ''}${step.name.slice(0, 100)}`,
            );
        if (!result.passed) console.log(`    log: ${result.log}`);
      }
    }
  } finally {
    mirror.server.close();
    await advisories.stop();
  }
  if (advisories.requests.length > 0)
    console.log(
      `advisory double: answered ${advisories.requests.length} npm audit request(s), no advisories`,
    );
  const summary = resolve(values.summary);
  mkdirSync(dirname(summary), { recursive: true });
  writeFileSync(
    summary,
    `${JSON.stringify({ commit, release: { ...release, secrets: undefined }, results }, null, 2)}\n`,
  );
  const failed = results.filter((result) => !result.passed);
  console.log(`\n${results.length - failed.length}/${results.length} jobs passed; summary in ${summary}`);
  if (!values.keep && failed.length === 0) await rm(runDirectory, { recursive: true, force: true });
  process.exitCode = failed.length === 0 ? 0 : 1;
}

if (import.meta.main)
  main().catch((error: Error) => {
    console.error(`ci:rehearse: ${error.message}`);
    process.exitCode = 2;
  });
