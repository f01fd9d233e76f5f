import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { evaluate, interpolate } from '../../scripts/ci/rehearsal/github-expressions.ts';
import { githubJobs, gitlabJobs, jenkinsJob, type Release } from '../../scripts/ci/rehearsal/pipelines.ts';
import { driverScript } from '../../scripts/ci/rehearse.ts';
import { REPO_ROOT } from '../support/kubernetes-manifests.ts';

// How the rehearsal reads the three pipelines: the jobs, their order and their own steps.

const release: Release = {
  commit: '0123456789abcdef0123456789abcdef01234567',
  deployEnv: 'dev',
  appVersion: 'rehearsal-01234567',
  workspace: '/w',
  secrets: { REGISTRY_PASSWORD: 'p', KUBECONFIG: 'k', KUBECONFIG_FILE: '/k' },
};
const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');

describe('GitHub expressions', () => {
  const context = { github: { ref_type: 'branch', ref_name: 'main' }, inputs: { app_version: '' } };
  it('&& and || yield operands, as in GitHub', () => {
    assert.equal(
      evaluate("inputs.app_version || (github.ref_type == 'tag' && github.ref_name) || 'latest'", context),
      'latest',
    );
    assert.equal(evaluate("github.ref_type == 'branch' && github.ref_name", context), 'main');
    assert.equal(evaluate("!(github.ref_type == 'tag')", context), true);
    assert.equal(interpolate(`v=\${{ github.ref_name }}!`, context), 'v=main!');
    assert.equal(evaluate('always()', context), true);
  });
  it('refuses what it cannot read', () => {
    assert.throws(() => evaluate('github.ref_type ==', context));
  });
});

describe('pipelines as rehearsal jobs', () => {
  it('GitLab: every job, needs first, with before_script then script, and the rule variables', () => {
    const jobs = gitlabJobs(read('.gitlab-ci.yml'), release);
    const names = jobs.map((job) => job.name);
    for (const job of jobs)
      for (const need of job.needs)
        assert.ok(names.indexOf(need) < names.indexOf(job.name), `${need} < ${job.name}`);
    const push = jobs.find((job) => job.name === 'push')!;
    assert.match(push.steps[0]!.script, /APP_VERSION/);
    assert.ok(push.steps.some((step) => step.script === 'npm run image:push'));
    assert.equal(push.env.REGISTRY_PASSWORD, 'p');
    assert.equal(jobs.find((job) => job.name === 'deploy-prod')!.env.DEPLOY_ENV, 'prod');
    assert.equal(jobs.find((job) => job.name === 'deploy-manual')!.env.DEPLOY_ENV, 'dev');
    assert.equal(push.env.IMAGE_REPOSITORY, 'registry.rehearsal.invalid/platform/user-service');
  });

  it('GitHub: reusable workflows run as their caller, secrets only through env, system on the runner VM', () => {
    const jobs = githubJobs('.github/workflows/ci.yml', REPO_ROOT, release);
    const names = jobs.map((job) => job.name);
    assert.ok(names.includes('deploy/deploy') && names.includes('deploy-prod/deploy'), names.join(' '));
    const deploy = jobs.find((job) => job.name === 'deploy-prod/deploy')!;
    assert.equal(deploy.env.DEPLOY_ENV, 'prod');
    const credentials = deploy.steps.find((step) => step.name === 'cluster credentials')!;
    assert.equal(credentials.env.KUBECONFIG_DATA, 'k');
    // The secret's text never lands in a command line.
    for (const job of jobs)
      for (const step of job.steps) assert.doesNotMatch(step.script, /\bk\b.*>|secrets\./);
    assert.equal(jobs.find((job) => job.name === 'system')!.runner, 'vm');
    assert.equal(jobs.find((job) => job.name === 'unit')!.runner, 'container');
  });

  it('Jenkins: each leaf stage, its sh steps in order, the post step always', () => {
    const job = jenkinsJob(read('Jenkinsfile'), release);
    const stages = [...new Set(job.steps.map((step) => step.group))];
    assert.deepEqual(stages.slice(0, 6), ['install', 'lint', 'type-check', 'unit', 'integration', 'system']);
    assert.equal(job.env.APP_VERSION, 'rehearsal-01234567');
    assert.equal(
      job.env.PATH,
      '/root/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    );
    const trivy = job.steps.find((step) => step.script === 'npm run image:scan')!;
    assert.equal(trivy.env.TRIVY_REQUIRED, '1');
    assert.ok(job.steps.at(-1)!.always);
  });
});

describe('rehearsal driver', () => {
  it('test steps run without the stand-ins that switch scripts into rehearsal mode', () => {
    const env = { REHEARSAL: '1', TRIVY_REQUIRED: '0', NPM_AUDIT_REGISTRY: 'http://127.0.0.1:1/' };
    const unit = gitlabJobs(read('.gitlab-ci.yml'), release).find((candidate) => candidate.name === 'unit')!;
    assert.match(
      driverScript(unit, '/w', '/r', env),
      /\(unset REHEARSAL TRIVY_REQUIRED NPM_AUDIT_REGISTRY\nnpm run test:unit\n\)/,
    );

    const jenkins = jenkinsJob(read('Jenkinsfile'), release);
    const driver = driverScript(jenkins, '/w', '/r', env);
    const stepRuns = (script: string) => {
      const index = jenkins.steps.findIndex((step) => step.script === script);
      assert.ok(index >= 0, script);
      return new RegExp(
        `\\((unset REHEARSAL TRIVY_REQUIRED NPM_AUDIT_REGISTRY; )?sh -xe /tmp/rehearsal-step-${index}\\.sh\\)`,
      ).exec(driver)!;
    };
    assert.ok(stepRuns('npm run test:unit')[1], 'unit step withholds the stand-ins');
    assert.equal(stepRuns('npm run image:push')[1], undefined, 'push keeps REHEARSAL');
    assert.equal(stepRuns('npm run audit:prod')[1], undefined, 'audit keeps NPM_AUDIT_REGISTRY');
  });

  it("a stand-in wins over a stage's own environment (the Trivy gate's TRIVY_REQUIRED = '1')", () => {
    const env = { REHEARSAL: '1', TRIVY_REQUIRED: '0' };
    const jenkins = jenkinsJob(read('Jenkinsfile'), release);
    const index = jenkins.steps.findIndex((step) => step.script === 'npm run image:scan');
    const scanRun = (driver: string) =>
      new RegExp(`\\(([^(]*)sh -xe /tmp/rehearsal-step-${index}\\.sh\\)`).exec(driver)?.[1];
    assert.equal(scanRun(driverScript(jenkins, '/w', '/r', env, Object.keys(env))), '');
    assert.match(
      scanRun(driverScript(jenkins, '/w', '/r', env)) ?? '',
      /export TRIVY_REQUIRED='?1'?; /,
      'without the stand-in list the stage value is exported',
    );
  });
});
