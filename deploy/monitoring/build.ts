import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { buildDashboard } from './grafana/dashboard.ts';

/**
 * Builds prometheus-rule.yaml (prometheus-operator) from the plain rule files in rules/, which stay the source
 * (promtool checks and unit-tests those), and grafana/user-service-dashboard.json from grafana/dashboard.ts. `node deploy/monitoring/build.ts` rewrites the file;
 * the monitoring-rules and monitoring-dashboard tests fail while a committed file differs from a fresh build.
 */

const here = new URL('./', import.meta.url);
export const RULES_DIR = new URL('rules/', here);
export const PROMETHEUS_RULE_FILE = new URL('prometheus-rule.yaml', here);
export const DASHBOARD_FILE = new URL('grafana/user-service-dashboard.json', here);

export interface RuleGroup {
  name: string;
  rules: Record<string, unknown>[];
}

export function ruleFileNames(): string[] {
  return readdirSync(RULES_DIR)
    .filter((name) => name.endsWith('.yml'))
    .sort();
}

export function loadRuleGroups(): RuleGroup[] {
  return ruleFileNames().flatMap(
    (name) => (parse(readFileSync(new URL(name, RULES_DIR), 'utf8')) as { groups: RuleGroup[] }).groups,
  );
}

export function buildPrometheusRule(): Record<string, unknown> {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'user-service-alerts',
      labels: {
        'app.kubernetes.io/name': 'user-service',
        'app.kubernetes.io/component': 'monitoring',
        // kube-prometheus-stack's default ruleSelector matches its release label.
        release: 'kube-prometheus-stack',
      },
    },
    spec: { groups: loadRuleGroups() },
  };
}

export function renderPrometheusRule(): string {
  return `# Generated from rules/*.yml by \`node deploy/monitoring/build.ts\`; edit those files, not this one.\n${stringify(
    buildPrometheusRule(),
    { lineWidth: 0 },
  )}`;
}

export function renderDashboard(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(PROMETHEUS_RULE_FILE, renderPrometheusRule());
  writeFileSync(DASHBOARD_FILE, renderDashboard());
  console.log(`wrote ${fileURLToPath(PROMETHEUS_RULE_FILE)} and ${fileURLToPath(DASHBOARD_FILE)}`);
}
