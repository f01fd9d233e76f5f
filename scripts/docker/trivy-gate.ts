// Decides the image gate from a Trivy JSON report (`trivy image --format json`): every HIGH or CRITICAL finding
// fails, whether or not a fixed version exists, unless the ignore file lists its id with a reason and a review
// date that has not passed. An ignore entry that is expired or lacks its reason fails the gate by itself, so an
// exception cannot outlive its review.
//
//   node scripts/docker/trivy-gate.ts REPORT.json [IGNOREFILE]      (IGNOREFILE defaults to deploy/docker/trivyignore.yaml)
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export const BLOCKING_SEVERITIES = new Set(['HIGH', 'CRITICAL']);
export const DEFAULT_IGNORE_FILE = 'deploy/docker/trivyignore.yaml';
const MIN_STATEMENT_LENGTH = 20;

export interface IgnoreEntry {
  kind: string;
  id: string;
  statement: string;
  expiresAt: Date;
}

export interface Finding {
  kind: 'vulnerabilities' | 'secrets';
  id: string;
  severity: string;
  target: string;
  what: string;
}

/** The entries of a Trivy YAML ignore file and every problem with them as of `today`. */
export function readIgnoreFile(text: string, today: Date): { entries: IgnoreEntry[]; problems: string[] } {
  const document = (parse(text) ?? {}) as Record<string, unknown>;
  const entries: IgnoreEntry[] = [];
  const problems: string[] = [];
  for (const [kind, list] of Object.entries(document)) {
    if (!Array.isArray(list)) {
      problems.push(`${kind}: must be a list`);
      continue;
    }
    for (const [index, raw] of list.entries()) {
      const { id, statement, expired_at: expiredAt } = (raw ?? {}) as Record<string, unknown>;
      const where = `${kind}[${index}] ${String(id)}`;
      const expiresAt = new Date(String(expiredAt));
      if (typeof id !== 'string' || id.trim() === '') problems.push(`${where}: missing id`);
      if (typeof statement !== 'string' || statement.trim().length < MIN_STATEMENT_LENGTH)
        problems.push(
          `${where}: needs a statement giving the reason (at least ${MIN_STATEMENT_LENGTH} characters)`,
        );
      if (expiredAt === undefined || Number.isNaN(expiresAt.getTime()))
        problems.push(`${where}: needs an expired_at review date`);
      else if (expiresAt.getTime() <= today.getTime())
        problems.push(
          `${where}: expired on ${expiresAt.toISOString().slice(0, 10)}; review it and renew or remove it`,
        );
      if (typeof id === 'string' && typeof statement === 'string')
        entries.push({ kind, id, statement, expiresAt });
    }
  }
  return { entries, problems };
}

interface TrivyReport {
  Results?: {
    Target?: string;
    Vulnerabilities?: {
      VulnerabilityID: string;
      PkgName?: string;
      InstalledVersion?: string;
      FixedVersion?: string;
      Severity: string;
    }[];
    Secrets?: { RuleID: string; Severity: string; Title?: string }[];
  }[];
}

/** Every HIGH/CRITICAL finding of a report; a missing FixedVersion does not lower it. */
export function blockingFindings(report: TrivyReport): Finding[] {
  const findings: Finding[] = [];
  for (const result of report.Results ?? []) {
    const target = result.Target ?? '(unknown target)';
    for (const vulnerability of result.Vulnerabilities ?? [])
      if (BLOCKING_SEVERITIES.has(vulnerability.Severity))
        findings.push({
          kind: 'vulnerabilities',
          id: vulnerability.VulnerabilityID,
          severity: vulnerability.Severity,
          target,
          what: `${vulnerability.PkgName ?? '?'} ${vulnerability.InstalledVersion ?? '?'} (fixed in ${vulnerability.FixedVersion || 'no release yet'})`,
        });
    for (const secret of result.Secrets ?? [])
      if (BLOCKING_SEVERITIES.has(secret.Severity))
        findings.push({
          kind: 'secrets',
          id: secret.RuleID,
          severity: secret.Severity,
          target,
          what: secret.Title ?? 'secret',
        });
  }
  return findings;
}

export interface GateResult {
  passed: boolean;
  lines: string[];
}

export function evaluateGate(report: TrivyReport, ignoreFileText: string, today = new Date()): GateResult {
  const { entries, problems } = readIgnoreFile(ignoreFileText, today);
  const lines = problems.map((problem) => `ignore file: ${problem}`);
  let blocking = problems.length;
  for (const finding of blockingFindings(report)) {
    const entry = entries.find((candidate) => candidate.kind === finding.kind && candidate.id === finding.id);
    const where = `${finding.severity} ${finding.id} in ${finding.target}: ${finding.what}`;
    if (entry && entry.expiresAt.getTime() > today.getTime())
      lines.push(
        `ignored  ${where} (until ${entry.expiresAt.toISOString().slice(0, 10)}: ${entry.statement})`,
      );
    else {
      lines.push(`BLOCKING ${where}`);
      blocking++;
    }
  }
  lines.push(blocking === 0 ? 'gate passed' : `gate failed: ${blocking} blocking item(s)`);
  return { passed: blocking === 0, lines };
}

if (import.meta.main) {
  const [reportPath, ignoreFile = DEFAULT_IGNORE_FILE] = process.argv.slice(2);
  if (!reportPath) {
    console.error('usage: node scripts/docker/trivy-gate.ts REPORT.json [IGNOREFILE]');
    process.exit(2);
  }
  const result = evaluateGate(
    JSON.parse(readFileSync(reportPath, 'utf8')) as TrivyReport,
    readFileSync(ignoreFile, 'utf8'),
  );
  for (const line of result.lines) console.log(line);
  process.exitCode = result.passed ? 0 : 1;
}
