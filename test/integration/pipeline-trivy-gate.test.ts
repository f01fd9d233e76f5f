import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { evaluateGate } from '../../scripts/docker/trivy-gate.ts';
import { REPO_ROOT } from '../support/kubernetes-manifests.ts';
import { findBinary, needs } from '../support/requirements.ts';

// scripts/docker/scan.sh against a fake `trivy` on PATH: what it is asked, and what the gate decides.

const work = mkdtempSync(join(tmpdir(), 'trivy-gate-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A PATH holding only what scan.sh needs, so a trivy elsewhere on the machine cannot leak in. */
function pathWith(fakeTrivyReport?: object): { path: string; argsFile: string } {
  const bin = mkdtempSync(join(work, 'bin-'));
  for (const tool of ['bash', 'dirname', 'mktemp', 'rm', 'cat']) {
    const found = findBinary(tool);
    assert.ok(found, `${tool} on PATH`);
    symlinkSync(found, join(bin, tool));
  }
  symlinkSync(process.execPath, join(bin, 'node'));
  const argsFile = join(bin, 'trivy-args');
  if (fakeTrivyReport) {
    const reportFile = join(bin, 'report.json');
    writeFileSync(reportFile, JSON.stringify(fakeTrivyReport));
    // Writes the canned report wherever --output points, like `trivy image --format json --output F`.
    writeFileSync(
      join(bin, 'trivy'),
      `#!${findBinary('bash')}\nprintf '%s\\n' "$@" >>'${argsFile}'\nwhile [ $# -gt 0 ]; do [ "$1" = --output ] && cat '${reportFile}' >"$2"; shift; done\n`,
    );
    chmodSync(join(bin, 'trivy'), 0o755);
  }
  return { path: bin, argsFile };
}

function scan(env: Record<string, string>, path: string, images = ['example/app:1']) {
  const result = spawnSync(findBinary('bash')!, [join(REPO_ROOT, 'scripts/docker/scan.sh'), ...images], {
    env: { PATH: path, HOME: work, ...env },
    encoding: 'utf8',
  });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

const unfixedHigh = {
  Results: [
    {
      Target: 'app/node_modules/example/package.json',
      Vulnerabilities: [
        { VulnerabilityID: 'CVE-2099-0001', PkgName: 'example', InstalledVersion: '1.0.0', Severity: 'HIGH' },
      ],
    },
  ],
};

function ignoreFile(
  expiredAt: string,
  statement = 'only reachable through a CLI the image never runs',
): string {
  const file = join(mkdtempSync(join(work, 'ignore-')), 'trivyignore.yaml');
  writeFileSync(
    file,
    `vulnerabilities:\n  - id: CVE-2099-0001\n    statement: ${statement}\n    expired_at: ${expiredAt}\n`,
  );
  return file;
}

describe('Trivy gate (scripts/docker/scan.sh)', { skip: needs('bash') }, () => {
  it('TRIVY_REQUIRED=1 (and by default): a missing trivy fails', () => {
    const { path } = pathWith();
    for (const env of [{ TRIVY_REQUIRED: '1' }, {}] as Record<string, string>[]) {
      const { code, output } = scan(env, path);
      assert.equal(code, 1, output);
      assert.match(output, /trivy is not installed and TRIVY_REQUIRED=1/);
    }
  });

  it('TRIVY_REQUIRED=0: a missing trivy warns and passes', () => {
    const { code, output } = scan({ TRIVY_REQUIRED: '0' }, pathWith().path);
    assert.equal(code, 0, output);
    assert.match(output, /WARNING: trivy is not installed/);
  });

  it('rejects TRIVY_REQUIRED values other than 0 and 1', () => {
    assert.equal(scan({ TRIVY_REQUIRED: 'yes' }, pathWith().path).code, 2);
  });

  it('an unfixed HIGH finding fails, with TRIVY_REQUIRED=0 too, and trivy is not asked to drop unfixed ones', () => {
    for (const required of ['0', '1']) {
      const { path, argsFile } = pathWith(unfixedHigh);
      const { code, output } = scan({ TRIVY_REQUIRED: required }, path);
      assert.equal(code, 1, output);
      assert.match(output, /BLOCKING HIGH CVE-2099-0001 .*fixed in no release yet/);
      const args = readFileSync(argsFile, 'utf8').split('\n');
      assert.ok(!args.includes('--ignore-unfixed'), args.join(' '));
      assert.ok(args.includes('HIGH,CRITICAL'));
    }
  });

  it('scans every image it is given and fails if any fails', () => {
    const { path, argsFile } = pathWith(unfixedHigh);
    assert.equal(scan({}, path, ['example/users:1', 'example/alert-relay:1']).code, 1);
    const args = readFileSync(argsFile, 'utf8');
    assert.match(args, /example\/users:1/);
    assert.match(args, /example\/alert-relay:1/);
  });

  it('an ignore entry with a reason and a future review date lets the finding pass; an expired one does not', () => {
    const { path } = pathWith(unfixedHigh);
    const current = scan({ TRIVY_IGNOREFILE: ignoreFile('2999-01-01') }, path);
    assert.equal(current.code, 0, current.output);
    assert.match(current.output, /ignored {2}HIGH CVE-2099-0001/);

    const expired = scan({ TRIVY_IGNOREFILE: ignoreFile('2001-01-01') }, path);
    assert.equal(expired.code, 1, expired.output);
    assert.match(expired.output, /expired on 2001-01-01/);
    assert.match(expired.output, /BLOCKING HIGH CVE-2099-0001/);
  });

  it('a clean report passes', () => {
    const { code, output } = scan({}, pathWith({ Results: [{ Target: 'x' }] }).path);
    assert.equal(code, 0, output);
    assert.match(output, /gate passed/);
  });
});

describe('Trivy gate decision (scripts/docker/trivy-gate.ts)', () => {
  const today = new Date('2030-06-01');
  it('an expired or unjustified entry fails even when nothing is found', () => {
    const expired = evaluateGate(
      {},
      'vulnerabilities:\n  - id: CVE-1\n    statement: reason long enough to count\n    expired_at: 2030-05-31\n',
      today,
    );
    assert.equal(expired.passed, false);
    const unjustified = evaluateGate(
      {},
      'vulnerabilities:\n  - id: CVE-1\n    statement: ok\n    expired_at: 2031-01-01\n',
      today,
    );
    assert.equal(unjustified.passed, false);
    assert.match(unjustified.lines.join('\n'), /needs a statement/);
  });

  it('MEDIUM findings do not block; CRITICAL secrets do', () => {
    const report = {
      Results: [
        {
          Target: 't',
          Vulnerabilities: [{ VulnerabilityID: 'CVE-2', Severity: 'MEDIUM' }],
          Secrets: [{ RuleID: 'aws-access-key-id', Severity: 'CRITICAL' }],
        },
      ],
    };
    const result = evaluateGate(report, 'vulnerabilities: []\n', today);
    assert.equal(result.passed, false);
    assert.doesNotMatch(result.lines.join('\n'), /CVE-2/);
    assert.match(result.lines.join('\n'), /BLOCKING CRITICAL aws-access-key-id/);
  });
});

// The committed ignore file itself must pass today (no expired or unjustified entry).
it('deploy/docker/trivyignore.yaml passes the gate with a clean report', () => {
  mkdirSync(work, { recursive: true });
  const result = evaluateGate({}, readFileSync(join(REPO_ROOT, 'deploy/docker/trivyignore.yaml'), 'utf8'));
  assert.equal(result.passed, true, result.lines.join('\n'));
});
