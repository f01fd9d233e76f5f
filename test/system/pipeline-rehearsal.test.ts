import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO_ROOT } from '../support/kubernetes-manifests.ts';
import { needs } from '../support/requirements.ts';

// npm run ci:rehearse against a tiny pipeline (test/fixtures/rehearsal/gitlab-ci.yml): a job passes on what the
// clean image has or what it installs itself, and a job that calls a tool it never installs fails.

const work = mkdtempSync(join(tmpdir(), 'rehearsal-test-'));
/** Run directories the rehearsal keeps when a job fails (here on purpose). */
const runDirectories: string[] = [];
after(() => {
  for (const directory of [work, ...runDirectories]) rmSync(directory, { recursive: true, force: true });
});
const summary = join(work, 'summary.json');

function rehearse(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolveRun) => {
    const script = join(REPO_ROOT, 'scripts/ci/rehearse.ts');
    // The run directory sits in the checkout, which the Docker engine sees at the same path also when this test
    // runs inside a pipeline's job container (a folder of the container's own /tmp it would not see).
    const workDir = join(REPO_ROOT, 'reports', 'rehearsal-test');
    const child = spawn(process.execPath, [script, '--summary', summary, '--work-dir', workDir, ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    child.once('close', (code) => {
      const runDirectory = /^rehearsal of \w+ in (\S+)$/m.exec(output)?.[1];
      if (runDirectory) runDirectories.push(runDirectory);
      resolveRun({ code, output });
    });
  });
}

describe('pipeline rehearsal', { skip: needs('docker') }, () => {
  it('fails the job that calls a tool it does not install, and only that job', async () => {
    const { code, output } = await rehearse([
      '--pipeline',
      'gitlab',
      '--file',
      'test/fixtures/rehearsal/gitlab-ci.yml',
    ]);
    assert.equal(code, 1, output);
    assert.match(output, /gitlab calls-node \.\.\. pass/);
    assert.match(output, /gitlab installs-what-it-calls \.\.\. pass/);
    assert.match(output, /gitlab calls-what-it-never-installs \.\.\. FAIL/);
    assert.match(output, /exit 127 .* promtool --version/);
    assert.match(output, /2\/3 jobs passed/);
    const results = (
      JSON.parse(readFileSync(summary, 'utf8')) as { results: { job: string; passed: boolean }[] }
    ).results;
    assert.deepEqual(
      results.map((result) => [result.job, result.passed]),
      [
        ['calls-node', true],
        ['installs-what-it-calls', true],
        ['calls-what-it-never-installs', false],
      ],
    );
  });

  it('--job runs one job', async () => {
    const { code, output } = await rehearse([
      '--pipeline',
      'gitlab',
      '--file',
      'test/fixtures/rehearsal/gitlab-ci.yml',
      '--job',
      'calls-node',
    ]);
    assert.equal(code, 0, output);
    assert.match(output, /1\/1 jobs passed/);
  });
});
