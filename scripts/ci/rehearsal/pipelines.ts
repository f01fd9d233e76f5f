// Reads the three pipeline definitions into the jobs a rehearsal runs: each job's environment and its own steps,
// in order, as the CI system would run them (GitLab: every script line in one shell with `set -eo pipefail`;
// GitHub: each `run` in `bash -e`, with GITHUB_ENV and GITHUB_PATH carried between steps; Jenkins: each `sh` step
// in `sh -xe`, every stage in one workspace).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { type Context, evaluate, interpolate } from './github-expressions.ts';

export type PipelineName = 'gitlab' | 'github' | 'jenkins';

export interface Step {
  name: string;
  script: string;
  shell: 'job-shell' | 'bash' | 'sh';
  env: Record<string, string>;
  /** Jenkins stage the step belongs to (reported per stage). */
  group?: string;
  /** Runs even after a failure (Jenkins `post { always }`). */
  always?: boolean;
}

export interface Job {
  pipeline: PipelineName;
  name: string;
  /** `container`: the job image; `vm`: a hosted runner's machine (Docker CLI, git, curl, Node). */
  runner: 'container' | 'vm';
  env: Record<string, string>;
  steps: Step[];
  needs: string[];
  /** Paths handed to the jobs that need this one (GitLab artifacts, GitHub upload-artifact). */
  artifacts: string[];
}

export interface Release {
  commit: string;
  deployEnv: string;
  appVersion: string;
  /** Where the checkout is, inside and outside the job's container. */
  workspace: string;
  /** Secrets the pipelines read, with rehearsal values. */
  secrets: Record<string, string>;
}

/** PATH of the job image (the official node image's, kept by the rehearsal's stand-in). */
const JOB_IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const lines = (value: unknown): string[] =>
  value === undefined || value === null ? [] : (Array.isArray(value) ? value : [value]).map(String);

/** $NAME and ${NAME} from the variables known so far (GitLab expands variables in variables). */
function expand(value: string, known: Record<string, string>): string {
  return value.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => {
    const name = (braced ?? bare)!;
    return name in known ? known[name]! : whole;
  });
}

type GitlabJob = Record<string, unknown> & {
  stage?: string;
  extends?: string | string[];
  variables?: Record<string, string>;
  needs?: (string | { job: string })[];
  rules?: { variables?: Record<string, string> }[];
  artifacts?: { paths?: string[] };
  before_script?: string[];
  script?: string[];
};

export function gitlabJobs(text: string, release: Release): Job[] {
  const document = parse(text) as Record<string, unknown>;
  const reserved = new Set([
    'stages',
    'variables',
    'workflow',
    'default',
    'include',
    'image',
    'services',
    'cache',
  ]);
  const stages = (document.stages as string[]) ?? ['build', 'test', 'deploy'];
  const defaults = (document.default ?? {}) as GitlabJob;
  const resolve = (job: GitlabJob): GitlabJob => {
    const parents = lines(job.extends).map((name) => resolve(document[name] as GitlabJob));
    const merged = Object.assign({}, ...parents, job) as GitlabJob;
    merged.variables = Object.assign({}, ...parents.map((parent) => parent.variables), job.variables);
    return merged;
  };
  const predefined: Record<string, string> = {
    CI: 'true',
    GITLAB_CI: 'true',
    CI_PROJECT_DIR: release.workspace,
    CI_COMMIT_SHA: release.commit,
    CI_COMMIT_SHORT_SHA: release.commit.slice(0, 8),
    CI_COMMIT_BRANCH: 'main',
    CI_DEFAULT_BRANCH: 'main',
    CI_PIPELINE_SOURCE: 'web',
    CI_REGISTRY: 'registry.rehearsal.invalid',
    CI_REGISTRY_IMAGE: 'registry.rehearsal.invalid/platform/user-service',
    CI_REGISTRY_USER: 'rehearsal',
    CI_REGISTRY_PASSWORD: release.secrets.REGISTRY_PASSWORD!,
    KUBECONFIG: release.secrets.KUBECONFIG_FILE!,
  };
  const named = Object.entries(document).filter(
    ([name, value]) => !reserved.has(name) && !name.startsWith('.') && value && typeof value === 'object',
  );
  const jobs = named.map(([name, raw]): Job => {
    const job = resolve(raw as GitlabJob);
    const env: Record<string, string> = { ...predefined };
    // A web pipeline sets DEPLOY_ENV and APP_VERSION; a job's rule may set DEPLOY_ENV itself.
    const layers = [
      (document.variables ?? {}) as Record<string, string>,
      { DEPLOY_ENV: release.deployEnv, APP_VERSION: release.appVersion },
      job.variables ?? {},
      job.rules?.[0]?.variables ?? {},
    ];
    for (const layer of layers)
      for (const [key, value] of Object.entries(layer)) env[key] = expand(String(value), env);
    env.CI_JOB_NAME = name;
    const script = [...lines(job.before_script ?? defaults.before_script), ...lines(job.script)];
    const stageIndex = stages.indexOf(job.stage ?? 'test');
    return {
      pipeline: 'gitlab',
      name,
      runner: 'container',
      env,
      steps: script.map((line) => ({
        name: line.split('\n')[0]!,
        script: line,
        shell: 'job-shell',
        env: {},
      })),
      needs:
        job.needs?.map((need) => (typeof need === 'string' ? need : need.job)) ??
        named
          .filter(([, other]) => stages.indexOf(resolve(other as GitlabJob).stage ?? 'test') < stageIndex)
          .map(([other]) => other),
      artifacts: job.artifacts?.paths ?? [],
    };
  });
  return inNeedsOrder(jobs);
}

interface GithubStep {
  name?: string;
  run?: string;
  uses?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
}
interface GithubJob {
  needs?: string | string[];
  if?: string;
  container?: string | { image: string };
  env?: Record<string, string>;
  steps?: GithubStep[];
  uses?: string;
  with?: Record<string, string>;
}

function githubContext(release: Release, inputs: Record<string, string>): Context {
  return {
    github: {
      ref: 'refs/heads/main',
      ref_name: 'main',
      ref_type: 'branch',
      event_name: 'workflow_dispatch',
      // Capitals on purpose: the workflows must lower-case the repository for the registry.
      repository: 'Example-Org/User-Service',
      repository_owner: 'Example-Org',
      sha: release.commit,
      actor: 'rehearsal',
    },
    inputs,
    secrets: { GITHUB_TOKEN: release.secrets.REGISTRY_PASSWORD, KUBECONFIG: release.secrets.KUBECONFIG },
    env: {},
  };
}

const interpolateAll = (values: Record<string, unknown> | undefined, context: Context) =>
  Object.fromEntries(
    Object.entries(values ?? {}).map(([key, value]) => [key, interpolate(String(value), context)]),
  );

function githubSteps(steps: GithubStep[], context: Context): Step[] {
  const result: Step[] = [];
  for (const [index, step] of steps.entries()) {
    if (step.if && !evaluate(step.if, context)) continue;
    const env = interpolateAll(step.env, context);
    const name = step.name ?? step.uses ?? step.run?.split('\n')[0] ?? `step ${index + 1}`;
    if (step.run !== undefined) {
      result.push({ name, script: interpolate(step.run, context), shell: 'bash', env });
      continue;
    }
    const action = step.uses?.split('@')[0];
    if (action === 'actions/checkout') continue; // the rehearsal's clean clone is the checkout
    if (action === 'actions/upload-artifact') {
      // The upload needs the files to exist; later jobs get them as artifacts.
      const path = interpolate(step.with?.path ?? '', context);
      result.push({ name, script: `ls -d ${shellQuote(path)} >/dev/null`, shell: 'bash', env });
      continue;
    }
    result.push({
      name,
      script: `echo "the rehearsal cannot run action ${step.uses} offline" >&2; exit 1`,
      shell: 'bash',
      env,
    });
  }
  return result;
}

export function githubJobs(workflowPath: string, repoRoot: string, release: Release): Job[] {
  const workflow = parse(readFileSync(resolve(repoRoot, workflowPath), 'utf8')) as {
    env?: Record<string, string>;
    jobs: Record<string, GithubJob>;
  };
  const inputs = { deploy_env: release.deployEnv, app_version: release.appVersion };
  const context = githubContext(release, inputs);
  const workflowEnv = interpolateAll(workflow.env, context);
  const jobs: Job[] = [];
  for (const [name, job] of Object.entries(workflow.jobs)) {
    // Every job runs, whatever its `if` (a rehearsal covers the tag and the main-branch jobs alike).
    const needs = lines(job.needs);
    if (job.uses?.startsWith('./')) {
      // A reusable workflow: its jobs run with the inputs this job passes.
      const called = parse(readFileSync(join(repoRoot, job.uses), 'utf8')) as {
        jobs: Record<string, GithubJob>;
      };
      const calledContext = githubContext(release, interpolateAll(job.with, context));
      for (const [calledName, calledJob] of Object.entries(called.jobs))
        jobs.push(githubJob(`${name}/${calledName}`, calledJob, needs, {}, calledContext));
      continue;
    }
    jobs.push(githubJob(name, job, needs, workflowEnv, context));
  }
  // A job that needs a reusable-workflow job waits for all of its jobs.
  for (const job of jobs)
    job.needs = job.needs.flatMap((need) =>
      jobs.some((other) => other.name === need)
        ? [need]
        : jobs.filter((o) => o.name.startsWith(`${need}/`)).map((o) => o.name),
    );
  return inNeedsOrder(jobs);
}

function githubJob(
  name: string,
  job: GithubJob,
  needs: string[],
  workflowEnv: Record<string, string>,
  context: Context,
): Job {
  const jobContext = { ...context, env: { ...workflowEnv } };
  const env = { CI: 'true', GITHUB_ACTIONS: 'true', GITHUB_SHA: String((context.github as Context).sha) };
  Object.assign(env, workflowEnv, interpolateAll(job.env, jobContext));
  jobContext.env = env;
  const steps = githubSteps(job.steps ?? [], jobContext);
  const artifacts = (job.steps ?? [])
    .filter((step) => step.uses?.startsWith('actions/upload-artifact'))
    .map((step) => interpolate(step.with?.path ?? '', jobContext));
  return {
    pipeline: 'github',
    name,
    runner: job.container ? 'container' : 'vm',
    env,
    steps,
    needs,
    artifacts,
  };
}

/** The span of a `{ ... }` block opened at `open`. */
function blockEnd(text: string, open: number): number {
  let depth = 0;
  for (let index = open; index < text.length; index++) {
    if (text[index] === '{') depth++;
    else if (text[index] === '}' && --depth === 0) return index;
  }
  return text.length;
}

/** `KEY = 'literal'` and `KEY = "...${env.X}..."` lines of an `environment { }` block. */
function jenkinsEnvironment(block: string, release: Release): Record<string, string> {
  const env: Record<string, string> = {};
  // What ${env.X} reads before the pipeline's own environment: the agent container's.
  const agent: Record<string, string> = { PATH: JOB_IMAGE_PATH, WORKSPACE: release.workspace, HOME: '/root' };
  for (const match of block.matchAll(/^\s*(\w+)\s*=\s*(?:'([^']*)'|"(.*)")\s*$/gm)) {
    const [, key, literal, interpolated] = match;
    if (literal !== undefined) env[key!] = literal;
    else if (interpolated!.includes('params.APP_VERSION')) env[key!] = release.appVersion;
    else if (interpolated!.includes('params.DEPLOY_ENV')) env[key!] = release.deployEnv;
    else env[key!] = interpolated!.replace(/\$\{env\.(\w+)\}/g, (_, name: string) => agent[name] ?? '');
  }
  return env;
}

export function jenkinsJob(text: string, release: Release): Job {
  const environmentAt = (from: number) => {
    const match = /\benvironment\s*\{/.exec(text.slice(from));
    if (!match) return undefined;
    const open = from + match.index + match[0].length - 1;
    return { open, end: blockEnd(text, open) };
  };
  const stagesAt = text.indexOf('stages {');
  const topEnvironment = environmentAt(0);
  const env: Record<string, string> = {
    WORKSPACE: release.workspace,
    GIT_COMMIT: release.commit,
    BRANCH_NAME: 'main',
    JENKINS_URL: 'http://jenkins.rehearsal.invalid/',
    REGISTRY_USER: 'rehearsal',
    REGISTRY_PASSWORD: release.secrets.REGISTRY_PASSWORD!,
    KUBECONFIG: release.secrets.KUBECONFIG_FILE!,
    ...(topEnvironment && topEnvironment.open < stagesAt
      ? jenkinsEnvironment(text.slice(topEnvironment.open, topEnvironment.end), release)
      : {}),
  };
  const steps: Step[] = [];
  const stageStarts = [...text.matchAll(/stage\(\s*'([^']+)'\s*\)\s*\{/g)];
  for (const match of stageStarts) {
    const open = match.index + match[0].length - 1;
    const body = text.slice(open, blockEnd(text, open));
    if (/\bstage\(/.test(body)) continue; // parallel parent: its branches are stages of their own
    const stageEnvironment = /\benvironment\s*\{([^}]*)\}/.exec(body);
    const stageEnv = stageEnvironment ? jenkinsEnvironment(stageEnvironment[1]!, release) : {};
    for (const command of shSteps(body))
      steps.push({
        name: command.trim().split('\n')[0]!.trim(),
        script: command,
        shell: 'sh',
        env: stageEnv,
        group: match[1]!,
      });
  }
  const post = /\bpost\s*\{/.exec(text.slice(stagesAt));
  if (post) {
    const open = stagesAt + post.index + post[0].length - 1;
    for (const command of shSteps(text.slice(open, blockEnd(text, open))))
      steps.push({
        name: command.trim(),
        script: command,
        shell: 'sh',
        env: {},
        group: 'post',
        always: true,
      });
  }
  return { pipeline: 'jenkins', name: 'pipeline', runner: 'container', env, steps, needs: [], artifacts: [] };
}

function shSteps(text: string): string[] {
  return [...text.matchAll(/\bsh\s+(?:'''([\s\S]*?)'''|"""([\s\S]*?)"""|'([^']*)'|"([^"]*)")/g)].map(
    (match) => match[1] ?? match[2] ?? match[3] ?? match[4] ?? '',
  );
}

/** Jobs ordered so that every job comes after the jobs it needs (file order otherwise). */
function inNeedsOrder(jobs: Job[]): Job[] {
  const ordered: Job[] = [];
  const placed = new Set<string>();
  const visit = (job: Job, path: string[]) => {
    if (placed.has(job.name)) return;
    if (path.includes(job.name)) throw new Error(`needs cycle: ${[...path, job.name].join(' -> ')}`);
    for (const need of job.needs) {
      const dependency = jobs.find((other) => other.name === need);
      if (dependency) visit(dependency, [...path, job.name]);
    }
    placed.add(job.name);
    ordered.push(job);
  };
  for (const job of jobs) visit(job, []);
  return ordered;
}

export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
