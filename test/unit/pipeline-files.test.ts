import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { gitlabJobs, type Release } from '../../scripts/ci/rehearsal/pipelines.ts';
import { REPO_ROOT } from '../support/kubernetes-manifests.ts';

// The three pipelines must call the same npm scripts, in the same order of stages, and only scripts that exist.

/** Stages in order; a stage is the npm scripts it runs (`ci` is `npm ci`). */
const STAGES: { name: string; scripts: string[] }[] = [
  { name: 'install', scripts: ['ci'] },
  { name: 'lint + type-check', scripts: ['lint', 'typecheck'] },
  { name: 'unit, integration and system tests', scripts: ['test:unit', 'test:integration', 'test:system'] },
  { name: 'audit + SBOM', scripts: ['audit:prod', 'sbom'] },
  { name: 'image build', scripts: ['image:build'] },
  { name: 'Trivy gate', scripts: ['image:scan'] },
  { name: 'push', scripts: ['image:push'] },
  { name: 'deploy', scripts: ['deploy'] },
  { name: 'verify', scripts: ['deploy:verify'] },
];
const NPM_COMMANDS = new Set(['ci', 'test', 'install']);

interface Call {
  script: string;
  command: string;
  /** A job (GitLab, GitHub) or stage (Jenkins). */
  unit: string;
  /** Order of the call inside its unit. */
  position: number;
}

interface Pipeline {
  calls: Call[];
  /** Whether `a` is guaranteed to have run before `b` starts. */
  before(a: Call, b: Call): boolean;
  /** Whether `a` and `b` run side by side. */
  parallel(a: Call, b: Call): boolean;
}

function npmCalls(command: string, unit: string, start: number): Call[] {
  const calls: Call[] = [];
  for (const match of command.matchAll(
    /\bnpm\s+(?:run(?:-script)?\s+(?:-s\s+)?([\w:.-]+)|(ci|test|install)\b)/g,
  )) {
    calls.push({
      script: match[1] ?? match[2]!,
      command: command.slice(match.index),
      unit,
      position: start + calls.length,
    });
  }
  return calls;
}

function lines(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** Closure of a dependency map: everything a unit waits for, directly or not. */
function closure(graph: Map<string, string[]>, unit: string, seen = new Set<string>()): Set<string> {
  for (const dependency of graph.get(unit) ?? []) {
    if (seen.has(dependency)) continue;
    seen.add(dependency);
    closure(graph, dependency, seen);
  }
  return seen;
}

/** Release values for reading the GitLab file; the checks look only at jobs, their needs and their scripts. */
const READING_RELEASE: Release = {
  commit: '0123456789abcdef0123456789abcdef01234567',
  deployEnv: 'dev',
  appVersion: 'latest',
  workspace: '/w',
  secrets: { REGISTRY_PASSWORD: 'p', KUBECONFIG: 'k', KUBECONFIG_FILE: '/k' },
};

/** The GitLab pipeline as the rehearsal reads it (`extends`, `default.before_script`, stage order for `needs`). */
export function parseGitlab(text: string): Pipeline {
  const graph = new Map<string, string[]>();
  const calls: Call[] = [];
  for (const job of gitlabJobs(text, READING_RELEASE)) {
    graph.set(job.name, job.needs);
    for (const step of job.steps) calls.push(...npmCalls(step.script, job.name, calls.length));
  }
  return {
    calls,
    before: (a, b) => (a.unit === b.unit ? a.position < b.position : closure(graph, b.unit).has(a.unit)),
    parallel: (a, b) =>
      a.unit !== b.unit && !closure(graph, a.unit).has(b.unit) && !closure(graph, b.unit).has(a.unit),
  };
}

export function parseGithub(text: string, reusable: (path: string) => string): Pipeline {
  const workflow = parse(text) as {
    jobs: Record<string, { needs?: string | string[]; steps?: { run?: string }[]; uses?: string }>;
  };
  const graph = new Map<string, string[]>();
  const calls: Call[] = [];
  for (const [name, job] of Object.entries(workflow.jobs)) {
    graph.set(name, lines(job.needs));
    let steps = job.steps ?? [];
    if (job.uses?.startsWith('./')) {
      // A reusable workflow in this repo: its jobs' steps run as part of this job.
      const called = parse(reusable(job.uses)) as { jobs: Record<string, { steps?: { run?: string }[] }> };
      steps = Object.values(called.jobs).flatMap((calledJob) => calledJob.steps ?? []);
    }
    for (const step of steps) calls.push(...npmCalls(step.run ?? '', name, calls.length));
  }
  return {
    calls,
    before: (a, b) => (a.unit === b.unit ? a.position < b.position : closure(graph, b.unit).has(a.unit)),
    parallel: (a, b) =>
      a.unit !== b.unit && !closure(graph, a.unit).has(b.unit) && !closure(graph, b.unit).has(a.unit),
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

export function parseJenkinsfile(text: string): Pipeline {
  const calls: Call[] = [];
  const stageStarts = [...text.matchAll(/stage\(\s*'([^']+)'\s*\)/g)].map((match) => ({
    name: match[1]!,
    at: match.index,
  }));
  const stageAt = (at: number) => stageStarts.filter((stage) => stage.at < at).at(-1)?.name ?? '(none)';
  for (const match of text.matchAll(/\bsh\s+(?:'''([\s\S]*?)'''|"""([\s\S]*?)"""|'([^']*)'|"([^"]*)")/g)) {
    const command = match[1] ?? match[2] ?? match[3] ?? match[4] ?? '';
    for (const call of npmCalls(command, stageAt(match.index), match.index)) calls.push(call);
  }
  const parallelBlocks = [...text.matchAll(/\bparallel\s*\{/g)].map((match) => {
    const open = match.index + match[0].length - 1;
    return { start: open, end: blockEnd(text, open) };
  });
  return {
    calls,
    before: (a, b) => a.position < b.position,
    parallel: (a, b) =>
      a.unit !== b.unit &&
      parallelBlocks.some((block) =>
        [a, b].every((call) => call.position > block.start && call.position < block.end),
      ),
  };
}

/** Every problem of a pipeline: unknown scripts, missing or misordered stages, tests not in parallel. */
export function pipelineProblems(pipeline: Pipeline, scripts: Set<string>): string[] {
  const problems: string[] = [];
  for (const call of pipeline.calls)
    if (!NPM_COMMANDS.has(call.script) && !scripts.has(call.script))
      problems.push(`calls npm script "${call.script}", which package.json lacks (${call.unit})`);
  // A dry-run deploy only renders manifests for review; it may run anywhere.
  const callsOf = (script: string) =>
    pipeline.calls.filter(
      (call) => call.script === script && !/^npm run deploy .*--dry-run/.test(call.command.split('\n')[0]!),
    );
  for (const stage of STAGES)
    for (const script of stage.scripts)
      if (callsOf(script).length === 0) problems.push(`misses stage ${stage.name}: no npm ${script}`);
  for (let index = 1; index < STAGES.length; index++) {
    for (const earlier of STAGES[index - 1]!.scripts)
      for (const later of STAGES[index]!.scripts) {
        const laterCalls = callsOf(later);
        // Every run of the later stage must come after some run of the earlier one.
        if (laterCalls.length === 0 || callsOf(earlier).length === 0) continue;
        for (const call of laterCalls)
          if (!callsOf(earlier).some((first) => pipeline.before(first, call)))
            problems.push(`${later} (${call.unit}) does not wait for ${earlier}`);
      }
  }
  const parallelTests = callsOf('test:unit').some((unit) =>
    callsOf('test:integration').some((integration) => pipeline.parallel(unit, integration)),
  );
  if (!parallelTests) problems.push('unit and integration tests do not run in parallel');
  const deploys = callsOf('deploy');
  if (
    !deploys.some(
      (call) =>
        /--env\s+\S+/.test(call.command) &&
        /--version\s+\S+/.test(call.command) &&
        !call.command.includes('--dry-run'),
    )
  )
    problems.push('no deploy call with --env and --version that applies (without --dry-run)');
  return [...new Set(problems)];
}

const packageScripts = new Set(
  Object.keys(
    (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: object }).scripts,
  ),
);
const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');

describe('CI/CD pipeline files', () => {
  it('.gitlab-ci.yml calls existing npm scripts through every stage, in order', () => {
    assert.deepEqual(pipelineProblems(parseGitlab(read('.gitlab-ci.yml')), packageScripts), []);
  });

  it('.github/workflows/ci.yml (with deploy.yml) calls existing npm scripts through every stage, in order', () => {
    const pipeline = parseGithub(read('.github/workflows/ci.yml'), (path) => read(path));
    assert.deepEqual(pipelineProblems(pipeline, packageScripts), []);
  });

  it('Jenkinsfile calls existing npm scripts through every stage, in order', () => {
    assert.deepEqual(pipelineProblems(parseJenkinsfile(read('Jenkinsfile')), packageScripts), []);
  });

  it('each pipeline takes DEPLOY_ENV and APP_VERSION, the version defaulting to the tag, else latest', () => {
    const gitlab = read('.gitlab-ci.yml');
    assert.match(gitlab, /APP_VERSION="\$\{APP_VERSION:-\$\{CI_COMMIT_TAG:-latest\}\}"/);
    const github = read('.github/workflows/ci.yml');
    assert.match(
      github,
      /APP_VERSION: \$\{\{ inputs\.app_version \|\| \(github\.ref_type == 'tag' && github\.ref_name\) \|\| 'latest' \}\}/,
    );
    const jenkins = read('Jenkinsfile');
    assert.match(jenkins, /APP_VERSION = "\$\{params\.APP_VERSION \?: \(env\.TAG_NAME \?: 'latest'\)\}"/);
    for (const text of [gitlab, github, jenkins]) assert.match(text, /DEPLOY_ENV/);
  });

  it('tags deploy (staging, then prod by hand) and pushes to main deploy to dev', () => {
    const gitlab = parse(read('.gitlab-ci.yml')) as Record<
      string,
      { rules?: { if?: string; when?: string; variables?: Record<string, string> }[] }
    >;
    const deployEnvFor = (job: string) =>
      gitlab[job]?.rules?.map((rule) => [rule.if, rule.variables?.DEPLOY_ENV, rule.when]);
    assert.deepEqual(deployEnvFor('deploy-dev'), [
      ['$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == "push"', 'dev', undefined],
    ]);
    assert.deepEqual(deployEnvFor('deploy-staging'), [['$CI_COMMIT_TAG', 'staging', undefined]]);
    assert.deepEqual(deployEnvFor('deploy-prod'), [['$CI_COMMIT_TAG', 'prod', 'manual']]);

    const github = parse(read('.github/workflows/ci.yml')) as {
      on: { push: { branches: string[]; tags: string[] } };
      jobs: Record<string, { if?: string; with?: Record<string, string> }>;
    };
    assert.deepEqual(github.on.push.branches, ['main']);
    assert.deepEqual(github.on.push.tags, ['v*']);
    assert.match(
      github.jobs.deploy!.if!,
      /github\.ref_type == 'tag' \|\| github\.ref == 'refs\/heads\/main'/,
    );
    assert.equal(
      github.jobs.deploy!.with!.deploy_env,
      `$\{{ inputs.deploy_env || (github.ref_type == 'tag' && 'staging') || 'dev' }}`,
    );
    assert.equal(github.jobs['deploy-prod']!.with!.deploy_env, 'prod');

    const jenkins = read('Jenkinsfile');
    assert.match(
      jenkins,
      /DEPLOY_ENV = "\$\{params\.DEPLOY_ENV \?: \(env\.TAG_NAME \? 'staging' : \(env\.BRANCH_NAME == 'main' \? 'dev' : ''\)\)\}"/,
    );
    assert.match(jenkins, /stage\('deploy'\) \{\s*when \{ anyOf \{ buildingTag\(\); branch 'main'/);
    assert.match(jenkins, /stage\('deploy prod'\) \{\s*when \{ buildingTag\(\) \}\s*steps \{\s*input /);
  });

  it('the checks catch a missing stage, an unknown script, a wrong order and serial tests', () => {
    const broken = read('Jenkinsfile')
      .replace("sh 'npm run lint'", "sh 'npm run lintt'")
      .replace("sh 'npm run image:push'", "sh 'echo no push'")
      .replace(/parallel \{(\s*stage\('unit'\))/, 'stages {$1');
    const problems = pipelineProblems(parseJenkinsfile(broken), packageScripts).join('\n');
    assert.match(problems, /"lintt", which package.json lacks/);
    assert.match(problems, /misses stage push: no npm image:push/);
    assert.match(problems, /unit and integration tests do not run in parallel/);

    const reordered = read('.gitlab-ci.yml').replace(
      'needs: [push]\n  environment:',
      'needs: [install]\n  environment:',
    );
    assert.match(
      pipelineProblems(parseGitlab(reordered), packageScripts).join('\n'),
      /deploy \(deploy-dev\) does not wait for image:push/,
    );
  });
});

/** The Debian package (scripts/ci/install-system-packages.sh) or npm script that provides each requirement. */
const PROVIDED_BY: Record<string, string> = {
  postgres: 'postgresql-15',
  'postgres-binaries': 'postgresql-15',
  docker: 'docker.io',
  'docker-compose': 'docker-compose',
  kubectl: 'npm run deploy:tools',
  promtool: 'prometheus',
  prometheus: 'prometheus',
  amtool: 'prometheus-alertmanager',
  alertmanager: 'prometheus-alertmanager',
  etcd: 'etcd-server',
  // Essential in every Debian image: never installed, always there.
  bash: 'essential',
};

/** Every requirement the suites of a tier declare with needs(...). */
function declaredNeeds(tier: string): Set<string> {
  const found = new Set<string>();
  const directory = join(REPO_ROOT, 'test', tier);
  for (const file of readdirSync(directory, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.test.ts')) continue;
    for (const call of readFileSync(join(directory, file), 'utf8').matchAll(/\bneeds\(([^)]*)\)/g))
      for (const name of call[1]!.matchAll(/'([\w-]+)'/g)) found.add(name[1]!);
  }
  return found;
}

function installedPackages(...tiers: string[]): Set<string> {
  const printed = execFileSync('bash', ['scripts/ci/install-system-packages.sh', '--print', ...tiers], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  return new Set([
    ...printed
      .trim()
      .split('\n')
      .map((line) => line.split('=')[0]!),
    'npm run deploy:tools',
    'essential',
  ]);
}

describe('what the test jobs install', () => {
  for (const [tier, installTiers] of [
    ['integration', ['base', 'integration']],
    ['system', ['base', 'system']],
  ] as [string, string[]][]) {
    it(`every requirement test/${tier} declares is installed by its job (${installTiers.join(' + ')})`, () => {
      const installed = installedPackages(...installTiers);
      const missing = [...declaredNeeds(tier)].filter(
        (need) => !installed.has(PROVIDED_BY[need] ?? `(${need})`),
      );
      assert.deepEqual(missing, []);
    });
  }

  it('the pins are exact package=version pairs', () => {
    for (const line of execFileSync('bash', ['scripts/ci/install-system-packages.sh', '--print'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    })
      .trim()
      .split('\n'))
      assert.match(line, /^[a-z0-9.+-]+=[\w.:~+-]+$/);
  });
});
