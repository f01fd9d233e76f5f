import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';

/** Every exception to the image scan's HIGH/CRITICAL gate must say why it does not apply and when to look again. */
export function trivyIgnoreProblems(text: string): string[] {
  const document = (parse(text) ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  for (const [kind, entries] of Object.entries(document)) {
    if (!Array.isArray(entries)) {
      problems.push(`${kind}: must be a list`);
      continue;
    }
    for (const [index, entry] of entries.entries()) {
      const { id, statement, expired_at: expiredAt } = (entry ?? {}) as Record<string, unknown>;
      const where = `${kind}[${index}] ${String(id)}`;
      if (typeof id !== 'string' || id.trim() === '') problems.push(`${where}: missing id`);
      if (typeof statement !== 'string' || statement.trim().length < 20)
        problems.push(`${where}: needs a statement giving the reason (at least 20 characters)`);
      if (expiredAt === undefined || Number.isNaN(new Date(String(expiredAt)).getTime()))
        problems.push(`${where}: needs an expired_at review date`);
    }
  }
  return problems;
}

describe('Trivy ignore file', () => {
  it('gives a reason and a review date for every ignored finding', () => {
    assert.deepEqual(trivyIgnoreProblems(readFileSync('deploy/docker/trivyignore.yaml', 'utf8')), []);
  });

  it('rejects entries without a reason or review date', () => {
    const problems = trivyIgnoreProblems(
      'vulnerabilities:\n  - id: CVE-2024-0001\n  - id: CVE-2024-0002\n    statement: ok\n    expired_at: 2027-01-01\n',
    );
    assert.equal(problems.length, 3);
    assert.match(problems[0] ?? '', /CVE-2024-0001: needs a statement/);
    assert.match(problems[1] ?? '', /CVE-2024-0001: needs an expired_at/);
    assert.match(problems[2] ?? '', /CVE-2024-0002: needs a statement/);
  });
});
