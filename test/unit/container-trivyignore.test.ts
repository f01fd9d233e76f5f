import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { readIgnoreFile } from '../../scripts/docker/trivy-gate.ts';

/** Every exception to the image scan's HIGH/CRITICAL gate must say why it does not apply and when to look again. */
const trivyIgnoreProblems = (text: string, today = new Date()) => readIgnoreFile(text, today).problems;

describe('Trivy ignore file', () => {
  it('gives a reason and a review date for every ignored finding', () => {
    assert.deepEqual(trivyIgnoreProblems(readFileSync('deploy/docker/trivyignore.yaml', 'utf8')), []);
  });

  it('rejects entries without a reason or review date', () => {
    const problems = trivyIgnoreProblems(
      'vulnerabilities:\n  - id: CVE-2024-0001\n  - id: CVE-2024-0002\n    statement: ok\n    expired_at: 2027-01-01\n',
      new Date('2026-06-01'),
    );
    assert.equal(problems.length, 3);
    assert.match(problems[0] ?? '', /CVE-2024-0001: needs a statement/);
    assert.match(problems[1] ?? '', /CVE-2024-0001: needs an expired_at/);
    assert.match(problems[2] ?? '', /CVE-2024-0002: needs a statement/);
  });
});
