import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { ConfigMap } from 'kubernetes-models/v1';
import { parseAllDocuments, stringify } from 'yaml';
import { DASHBOARD_FILE, renderDashboard } from '../../deploy/monitoring/build.ts';
import {
  DASHBOARD_SELECTORS,
  dashboardTargets,
  resolveVariables,
} from '../../deploy/monitoring/grafana/dashboard.ts';
import { findSharedQueries, sharedQueryMetrics } from '../../deploy/monitoring/queries.ts';
import { needs } from '../support/requirements.ts';

const run = promisify(execFile);

interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { refId: string; expr: string; datasource?: unknown }[];
}
const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { uid: string; panels: Panel[] };
const targets = dashboardTargets(dashboard);
const SELECTORS = Object.values(DASHBOARD_SELECTORS);
// Only shared queries carry the no-traffic guards, so a target with one of them is a copy and must be exact.
const GUARD = /and on\(namespace\) sum by \(namespace\) \(rate\(http_requests_total|or on\(namespace\) 0 \*/;

describe('Grafana dashboard', () => {
  test('the committed JSON is the fresh build of grafana/dashboard.ts', () => {
    assert.equal(
      readFileSync(DASHBOARD_FILE, 'utf8'),
      renderDashboard(),
      'stale: run `node deploy/monitoring/build.ts`',
    );
  });

  test('panels have unique ids, fit the 24-column grid and query the chosen data source', () => {
    const ids = dashboard.panels.map((panel) => panel.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const panel of dashboard.panels) {
      assert.ok(panel.gridPos.x + panel.gridPos.w <= 24, panel.title);
      if (panel.type === 'row') continue;
      assert.deepEqual(
        panel.datasource,
        { type: 'prometheus', uid: '$'.concat('{datasource}') },
        panel.title,
      );
      assert.ok(panel.targets?.length, `${panel.title} has no query`);
      assert.ok(panel.description, `${panel.title} has no description`);
      const refIds = panel.targets!.map((target) => target.refId);
      assert.equal(new Set(refIds).size, refIds.length, panel.title);
    }
  });

  test('panel queries that copy a shared query equal renderQuery output', () => {
    const used = new Set<string>();
    const metrics = sharedQueryMetrics();
    for (const target of targets) {
      const { uses, rest } = findSharedQueries(target.expr, SELECTORS);
      if (uses.length === 0) {
        assert.doesNotMatch(
          target.expr,
          GUARD,
          `${target.panel}/${target.refId} looks like an edited shared query`,
        );
        continue;
      }
      assert.match(rest, /^<\w+>$/, `${target.panel}/${target.refId} is more than one shared query: ${rest}`);
      for (const metric of metrics) assert.ok(!rest.includes(metric));
      for (const use of uses) used.add(`${use.name} ${use.selector}`);
    }
    for (const name of ['p99_latency_seconds', 'error_ratio', 'slow_request_rate']) {
      assert.ok(used.has(`${name} ${DASHBOARD_SELECTORS.all}`), `${name} is not on the dashboard`);
    }
    for (const name of ['p99_latency_seconds', 'error_ratio']) {
      assert.ok(used.has(`${name} ${DASHBOARD_SELECTORS.stable}`), `${name} for stable is missing`);
      assert.ok(used.has(`${name} ${DASHBOARD_SELECTORS.canary}`), `${name} for canary is missing`);
    }
  });

  test('every panel query reads one environment: the namespace variable, from the scraped series', () => {
    const unscoped = targets
      .filter((target) =>
        [...target.expr.matchAll(/\w+\{([^}]*)\}/g)].some(([, m]) => !m!.includes('namespace="$namespace"')),
      )
      .map((target) => `${target.panel}/${target.refId}`);
    assert.deepEqual(unscoped, [], 'a panel mixes dev, staging and prod');
    const variables = (
      JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as {
        templating: { list: { name: string; definition?: string }[] };
      }
    ).templating.list;
    const namespace = variables.find((variable) => variable.name === 'namespace');
    assert.match(
      namespace?.definition ?? '',
      /^label_values\(http_requests_total\{service="\$service"\}, namespace\)$/,
    );
  });

  test('it covers RED, latency, canary, runtime, DB pool, breakers and slow requests', () => {
    const all = targets.map((target) => target.expr).join('\n');
    for (const metric of [
      'http_requests_total',
      'http_request_duration_seconds_bucket',
      'http_slow_requests_total',
      'http_requests_in_flight',
      'app_errors_total',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
      'nodejs_gc_duration_seconds_sum',
      'db_pool_connections',
      'circuit_breaker_state',
    ]) {
      assert.ok(all.includes(metric), `no panel reads ${metric}`);
    }
  });

  test('every panel query parses (promtool)', { skip: needs('promtool') }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dashboard-promql-'));
    try {
      const file = join(dir, 'panels.yml');
      const rules = targets.map((target, index) => ({
        record: `dashboard:panel_${index}`,
        expr: resolveVariables(target.expr, {
          service: 'user-service',
          namespace: 'user-service',
          rateInterval: '1m',
        }),
      }));
      await writeFile(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
      const { stdout } = await run('promtool', ['check', 'rules', file]);
      assert.match(stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('kustomization', { skip: needs('kubectl') }, () => {
  test('renders the dashboard ConfigMap for the Grafana sidecar, the ServiceMonitor and the PrometheusRule', async () => {
    const { stdout } = await run('kubectl', ['kustomize', 'deploy/monitoring']);
    const objects = parseAllDocuments(stdout).map((document) => document.toJSON()) as {
      kind: string;
      metadata: { name: string; namespace?: string; labels?: Record<string, string> };
      data?: Record<string, string>;
      spec?: { endpoints?: { honorLabels?: boolean; port?: string }[] };
    }[];
    assert.deepEqual(objects.map((object) => object.kind).sort(), [
      'ConfigMap',
      'PrometheusRule',
      'ServiceMonitor',
    ]);
    for (const object of objects) assert.equal(object.metadata.namespace, 'monitoring', object.kind);

    const configMap = objects.find((object) => object.kind === 'ConfigMap')!;
    new ConfigMap(configMap as unknown as ConstructorParameters<typeof ConfigMap>[0]).validate();
    assert.equal(configMap.metadata.labels?.grafana_dashboard, '1');
    assert.equal(configMap.metadata.name, 'user-service-dashboard');
    assert.deepEqual(JSON.parse(configMap.data!['user-service-dashboard.json']!), dashboard);
    assert.ok(Buffer.byteLength(stdout) < 256 * 1024, 'too large for kubectl apply');

    const monitor = objects.find((object) => object.kind === 'ServiceMonitor')!;
    new ServiceMonitor(monitor as unknown as ConstructorParameters<typeof ServiceMonitor>[0]).validate();
    assert.deepEqual(
      monitor.spec!.endpoints!.map((endpoint) => [endpoint.port, endpoint.honorLabels]),
      [['http', true]],
    );
    const rule = objects.find((object) => object.kind === 'PrometheusRule')!;
    new PrometheusRule(rule as unknown as ConstructorParameters<typeof PrometheusRule>[0]).validate();
  });
});
