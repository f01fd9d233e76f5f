import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  type Advisory,
  AdvisoryDouble,
  type BulkAnswer,
} from '../../scripts/ci/rehearsal/advisory-double.ts';
import { REPO_ROOT } from '../support/kubernetes-manifests.ts';

// The pipelines' audit gate, `npm run audit:prod` (npm audit --omit=dev --audit-level=high), run for real by npm
// against the rehearsal's double of the registry's bulk advisory endpoint (NPM_AUDIT_REGISTRY): it passes on no
// advisories and fails on a HIGH one in a production dependency, so answering {} in rehearsal is not a gate that
// cannot fail. npm comes with Node (as in the job image), so the suite needs nothing beyond it.

interface LockEntry {
  version: string;
  dev?: boolean;
}
const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, LockEntry>;
};
const PROD = 'pg';
const DEV = 'typescript';
const prodVersion = lock.packages[`node_modules/${PROD}`]!.version;
const devVersion = lock.packages[`node_modules/${DEV}`]!.version;

// npm keeps advisories it has computed in its cache: a cache of the suite's own keeps these made-up ones out of
// the user's.
const cache = mkdtempSync(join(tmpdir(), 'npm-audit-gate-'));
after(() => rmSync(cache, { recursive: true, force: true }));

const advisory = (id: number, severity: Advisory['severity'], range: string): Advisory => ({
  id,
  url: `https://advisories.rehearsal.invalid/GHSA-test-${id}`,
  title: `Rehearsal test advisory ${id} (${severity})`,
  severity,
  vulnerable_versions: range,
  cwe: ['CWE-20'],
  cvss: {
    score: severity === 'high' ? 7.5 : 3.1,
    vectorString: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:L',
  },
});

async function audit(advisories: BulkAnswer = {}) {
  const double = await new AdvisoryDouble({ advisories }).start();
  try {
    // Asynchronous: the double answers from this process.
    const child = spawn('npm', ['run', 'audit:prod'], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        NPM_AUDIT_REGISTRY: double.url,
        npm_config_cache: cache,
        npm_config_update_notifier: 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    return { code, output, requests: double.requests };
  } finally {
    await double.stop();
  }
}

describe('npm run audit:prod against the advisory double', () => {
  it(`passes on no advisories, having asked for the locked production dependencies only`, async () => {
    const { code, output, requests } = await audit();
    assert.equal(code, 0, output);
    assert.match(output, /found 0 vulnerabilities/);
    assert.equal(requests.length, 1, 'one bulk request, to the double');
    assert.deepEqual(requests[0]![PROD], [prodVersion], `${PROD}@${prodVersion} from package-lock.json`);
    assert.equal(requests[0]![DEV], undefined, `--omit=dev leaves ${DEV} out`);
  });

  it(`fails on a HIGH advisory for ${PROD} covering the locked version, and prints it`, async () => {
    const high = advisory(9_000_001, 'high', `<=${prodVersion}`);
    const { code, output } = await audit({ [PROD]: [high] });
    assert.notEqual(code, 0, output);
    assert.ok(output.includes(high.title) && output.includes(high.url), output);
    assert.match(output, new RegExp(`^${PROD}\\b[\\s\\S]*Severity: high`, 'm'));
    assert.match(output, /\d+ high severity vulnerabilit/);
  });

  it(`passes on a LOW advisory for ${PROD} covering the locked version (below --audit-level=high)`, async () => {
    const low = advisory(9_000_002, 'low', `<=${prodVersion}`);
    const { code, output } = await audit({ [PROD]: [low] });
    assert.equal(code, 0, output);
    assert.ok(output.includes(low.title), 'the advisory is still reported');
    assert.match(output, /\d+ low severity vulnerabilit/);
  });

  it(`passes on a HIGH advisory for the dev dependency ${DEV} (--omit=dev)`, async () => {
    const { code, output } = await audit({ [DEV]: [advisory(9_000_003, 'high', `<=${devVersion}`)] });
    assert.equal(code, 0, output);
    assert.match(output, /found 0 vulnerabilities/);
  });
});
