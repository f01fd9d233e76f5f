import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { parse } from 'yaml';
import {
  buildPrometheusRule,
  loadRuleGroups,
  PROMETHEUS_RULE_FILE,
  renderPrometheusRule,
  ruleFileNames,
} from '../../deploy/monitoring/build.ts';
import { findSharedQueries, sharedQueryMetrics } from '../../deploy/monitoring/queries.ts';
import { needs } from '../support/requirements.ts';

const run = promisify(execFile);
const MONITORING = 'deploy/monitoring';
const RULE_SELECTOR = 'service="user-service"';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (): Rule[] => loadRuleGroups().flatMap((group) => group.rules as unknown as Rule[]);

const CONTRACT_ALERTS: Record<string, string[]> = {
  UserServiceHighLatencyP99: ['critical'],
  UserServiceHighErrorRatio: ['critical'],
  UserServiceErrorBudgetBurn: ['critical', 'warning'],
  UserServiceSlowRequests: ['warning'],
  UserServiceErrorLogs: ['warning'],
  UserServiceNotReady: ['warning'],
  PodRestartingTooOften: ['critical'],
  PodCrashLooping: ['warning'],
};

describe('alert rules', () => {
  test('exactly the alert names and severities of the contract', () => {
    const found: Record<string, string[]> = {};
    for (const rule of rules()) {
      if (!rule.alert) continue;
      found[rule.alert] = [...(found[rule.alert] ?? []), rule.labels?.severity ?? 'none'];
    }
    assert.deepEqual(found, CONTRACT_ALERTS);
  });

  test('every alert carries severity, an owner label and summary, description and runbook_url', () => {
    for (const rule of rules().filter((candidate) => candidate.alert)) {
      const labels = rule.labels ?? {};
      assert.match(labels.severity ?? '', /^(critical|warning)$/, rule.alert);
      const owned = labels.service !== undefined || /\bnamespace\b[\s\S]*\bpod\b/.test(rule.expr);
      assert.ok(owned, `${rule.alert} needs a service label or namespace/pod from its expression`);
      for (const key of ['summary', 'description', 'runbook_url']) {
        assert.ok(rule.annotations?.[key], `${rule.alert} has no ${key}`);
      }
      assert.match(rule.annotations!.runbook_url!, new RegExp(`^https://.+/${rule.alert}$`));
    }
  });

  test('service alerts use the shared queries verbatim (a copy edited by hand fails here)', () => {
    const metrics = sharedQueryMetrics();
    for (const rule of rules()) {
      const { uses, rest } = findSharedQueries(rule.expr, [RULE_SELECTOR]);
      for (const metric of metrics) {
        assert.ok(
          !rest.includes(metric),
          `${rule.alert ?? rule.record} reads ${metric} outside a shared query; left after matching: ${rest}`,
        );
      }
      if (rule.labels?.service === 'user-service' && rule.alert !== 'UserServiceNotReady') {
        assert.ok(uses.length > 0, `${rule.alert} should be built from shared queries`);
      }
    }
  });

  test('service alerts name the environment they are about: their expressions keep the namespace label', () => {
    for (const rule of rules().filter((candidate) => candidate.labels?.service === 'user-service')) {
      const { uses } = findSharedQueries(rule.expr, [RULE_SELECTOR]);
      const byNamespace = uses.length > 0 || /\bby \(namespace\b/.test(rule.expr);
      assert.ok(byNamespace, `${rule.alert} sums across namespaces`);
      assert.doesNotMatch(rule.expr, /\bon\(\)|\bsum\(/, `${rule.alert} aggregates away the namespace`);
    }
  });

  test('every alert has a section in runbooks.md', () => {
    const runbooks = readFileSync(join(MONITORING, 'runbooks.md'), 'utf8');
    for (const alert of Object.keys(CONTRACT_ALERTS)) {
      assert.match(runbooks, new RegExp(`^## ${alert}$`, 'm'), `runbooks.md has no section for ${alert}`);
    }
  });

  test('the pod restart alert is joined to kube_pod_info for the node', () => {
    const rule = rules().find((candidate) => candidate.alert === 'PodRestartingTooOften')!;
    assert.match(rule.expr, /increase\(kube_pod_container_status_restarts_total\[15m\]\) > 5/);
    assert.match(rule.expr, /\* on \(namespace, pod\) group_left \(node\)[\s\S]*kube_pod_info/);
  });

  test('every alert has a firing and a not-firing promtool case', () => {
    const firing = new Set<string>();
    const quiet = new Set<string>();
    for (const file of readdirSync(join(MONITORING, 'tests')).filter((name) => name.endsWith('.yml'))) {
      const suite = parse(readFileSync(join(MONITORING, 'tests', file), 'utf8')) as {
        tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
      };
      for (const testCase of suite.tests.flatMap((entry) => entry.alert_rule_test ?? [])) {
        (testCase.exp_alerts?.length ? firing : quiet).add(testCase.alertname);
      }
    }
    for (const alert of Object.keys(CONTRACT_ALERTS)) {
      assert.ok(firing.has(alert), `no firing case for ${alert}`);
      assert.ok(quiet.has(alert), `no not-firing case for ${alert}`);
    }
  });

  test('prometheus-rule.yaml is the fresh build of rules/*.yml and a valid PrometheusRule', () => {
    assert.equal(
      readFileSync(PROMETHEUS_RULE_FILE, 'utf8'),
      renderPrometheusRule(),
      'stale: run `node deploy/monitoring/build.ts`',
    );
    const committed = parse(readFileSync(PROMETHEUS_RULE_FILE, 'utf8'));
    assert.deepEqual(committed, buildPrometheusRule());
    new PrometheusRule(committed as ConstructorParameters<typeof PrometheusRule>[0]).validate();
  });
});

describe('promtool', { skip: needs('promtool') }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'promtool-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('check rules: the plain files and the PrometheusRule spec', async () => {
    const files = ruleFileNames().map((name) => join(MONITORING, 'rules', name));
    const spec = join(dir, 'prometheus-rule-spec.yml');
    const { spec: groups } = parse(readFileSync(PROMETHEUS_RULE_FILE, 'utf8')) as { spec: unknown };
    await writeFile(spec, JSON.stringify(groups));
    const { stdout } = await run('promtool', ['check', 'rules', ...files, spec]);
    assert.equal(stdout.match(/SUCCESS/g)?.length, files.length + 1, stdout);
  });

  test('test rules: firing and not-firing cases', async () => {
    const files = readdirSync(join(MONITORING, 'tests'))
      .filter((name) => name.endsWith('.yml'))
      .map((name) => join(MONITORING, 'tests', name));
    const result = await run('promtool', ['test', 'rules', ...files]).catch(
      (error: { stdout: string; stderr: string }) => error,
    );
    assert.equal(result.stdout.match(/SUCCESS/g)?.length, files.length, `${result.stdout}\n${result.stderr}`);
  });
});
