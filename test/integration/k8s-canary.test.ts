import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { containersOf, type K8sObject, podSpecOf } from '../../deploy/ci/kustomize.ts';
import { renderQuery } from '../../deploy/monitoring/queries.ts';
import { reloadableKeys } from '../../src/platform/config/config-store.ts';
import { decodeConfig } from '../../src/platform/config/load-config.ts';
import { usersConfigSchema } from '../../src/services/users/config.ts';
import { measure } from '../support/argo-analysis.ts';
import { findObject, renderOverlay } from '../support/kubernetes-manifests.ts';
import { needs } from '../support/requirements.ts';

const skip = needs('kubectl');
/** The canary's series: the service's own, from canary pods, in the namespace the Rollout passes as argument. */
const CANARY_SELECTOR = 'service="user-service",namespace="{{args.namespace}}",canary="true"';
/** promtool cases that run the prod and staging analysis queries against series of both environments. */
const ISOLATION_TESTS = 'deploy/monitoring/tests/isolation.test.yml';
const ANALYSIS_WINDOW = '2m';
/** AnalysisTemplate metric → shared query and the threshold a measurement must not exceed. */
const GATES: Record<string, { query: string; threshold: number }> = {
  'p99-latency-seconds': { query: 'p99_latency_seconds', threshold: 0.8 },
  'error-ratio': { query: 'error_ratio', threshold: 0.01 },
};

/** The ConfigMap the service's container takes its environment from (its name carries a content hash). */
function serviceConfigMap(objects: K8sObject[]): K8sObject {
  const [container] = podSpecOf(findObject(objects, 'Deployment', 'user-service')).containers;
  return findObject(objects, 'ConfigMap', container.envFrom[0].configMapRef.name);
}

/** Envoy's safe_regex header match: RE2, and the whole value must match. */
function headerMatches(regex: string, value: string): boolean {
  return new RegExp(`^(?:${regex})$`).test(value);
}

describe('canary rollout (prod overlay)', { skip }, () => {
  const rendered = () => renderOverlay('prod');
  const rolloutOf = async () => findObject(await rendered(), 'Rollout', 'user-service');

  it('the AnalysisTemplate queries are exactly the shared queries for the canary selector', async () => {
    const template = findObject(await rendered(), 'AnalysisTemplate');
    const metrics = template.spec.metrics as { name: string; provider: { prometheus: { query: string } } }[];
    assert.deepEqual(metrics.map((m) => m.name).sort(), Object.keys(GATES).sort());
    for (const metric of metrics) {
      const expected = renderQuery(GATES[metric.name]!.query, {
        selector: CANARY_SELECTOR,
        window: ANALYSIS_WINDOW,
      });
      assert.equal(metric.provider.prometheus.query, expected, `${metric.name} drifted from queries.yaml`);
    }
  });

  it('each analysis judges its own namespace: the Rollout passes metadata.namespace as the argument', async () => {
    const template = findObject(await rendered(), 'AnalysisTemplate');
    assert.deepEqual(template.spec.args, [{ name: 'namespace' }]);
    const steps = (await rolloutOf()).spec.strategy.canary.steps as { analysis?: { args?: unknown[] } }[];
    const analyses = steps.filter((step) => step.analysis);
    assert.ok(analyses.length > 0);
    for (const { analysis } of analyses)
      assert.deepEqual(analysis!.args, [
        { name: 'namespace', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      ]);
    for (const metric of template.spec.metrics as { provider: { prometheus: { query: string } } }[])
      for (const [matchers] of metric.provider.prometheus.query.matchAll(/\{route[^[]*\[/g))
        assert.match(matchers, /namespace="\{\{args\.namespace\}\}"/, 'a selector reads every namespace');
  });

  it('the promtool isolation cases run exactly the prod and staging analysis queries', async () => {
    const template = findObject(await rendered(), 'AnalysisTemplate');
    const suite = parse(readFileSync(ISOLATION_TESTS, 'utf8')) as {
      tests: { promql_expr_test?: { expr: string }[] }[];
    };
    const copies = new Set(suite.tests.flatMap((entry) => entry.promql_expr_test ?? []).map((t) => t.expr));
    const queries = (template.spec.metrics as { provider: { prometheus: { query: string } } }[]).map(
      (metric) => metric.provider.prometheus.query,
    );
    const forNamespace = (namespace: string) =>
      queries.map((query) => query.replaceAll('{{args.namespace}}', namespace));
    for (const query of forNamespace('user-service'))
      assert.ok(copies.has(query), `prod's analysis query is not in ${ISOLATION_TESTS}: ${query}`);
    assert.ok(
      forNamespace('user-service-staging').some((query) => copies.has(query)),
      "staging's own analysis is not checked",
    );
  });

  it('a measurement passes at the threshold, fails above it, and no data is inconclusive', async () => {
    const template = findObject(await rendered(), 'AnalysisTemplate');
    for (const metric of template.spec.metrics) {
      const { threshold } = GATES[metric.name]!;
      assert.equal(
        measure(metric, []),
        'Inconclusive',
        `${metric.name}: no traffic must not fail the canary`,
      );
      assert.equal(measure(metric, [0]), 'Successful');
      assert.equal(measure(metric, [threshold]), 'Successful', `${metric.name} at ${threshold}`);
      assert.equal(measure(metric, [threshold * 1.01]), 'Failed', `${metric.name} above ${threshold}`);
      assert.equal(measure(metric, [Number.NaN]), 'Inconclusive');
      assert.ok(metric.failureLimit >= 0 && metric.failureLimit <= 2, `${metric.name}: failureLimit`);
      assert.ok(
        metric.inconclusiveLimit >= 1,
        `${metric.name}: a short gap in traffic must not pause at once`,
      );
      assert.ok(metric.count >= 3, `${metric.name}: enough measurements to judge`);
      assert.ok(metric.provider.prometheus.address.startsWith('http'), `${metric.name}: Prometheus address`);
    }
  });

  it('steps: staff by cookie, then 5 % -> analysis -> 20 % -> analysis -> 100 %', async () => {
    const rollout = await rolloutOf();
    const steps = rollout.spec.strategy.canary.steps as Record<string, unknown>[];
    const shape = steps
      .map((step) => {
        if (step.setHeaderRoute) return 'header';
        if (step.setWeight !== undefined) return `weight ${step.setWeight}`;
        if (step.analysis) return 'analysis';
        return undefined;
      })
      .filter(Boolean);
    assert.deepEqual(shape, ['header', 'weight 5', 'analysis', 'weight 20', 'analysis', 'weight 100']);
    const templates = new Set(
      (await rendered()).filter((o) => o.kind === 'AnalysisTemplate').map((o) => o.metadata.name),
    );
    for (const step of steps.filter((s) => s.analysis) as {
      analysis: { templates: { templateName: string }[] };
    }[])
      for (const { templateName } of step.analysis.templates)
        assert.ok(templates.has(templateName), templateName);
    // A canary pod must exist while only staff reach it (traffic weight is still 0).
    const headerIndex = steps.findIndex((s) => s.setHeaderRoute);
    assert.ok(steps.slice(0, headerIndex).some((s) => (s.setCanaryScale as { replicas?: number })?.replicas));
  });

  it('the staff route matches the cookie user-group=canary anywhere in the Cookie header, and nothing else', async () => {
    const rollout = await rolloutOf();
    const canary = rollout.spec.strategy.canary;
    const step = canary.steps.find((s: { setHeaderRoute?: unknown }) => s.setHeaderRoute).setHeaderRoute;
    assert.deepEqual(
      canary.trafficRouting.managedRoutes.map((r: { name: string }) => r.name),
      [step.name],
    );
    const [match] = step.match;
    assert.equal(match.headerName, 'cookie', 'Istio header names are lowercase');
    const regex = match.headerValue.regex;
    for (const cookie of [
      'user-group=canary',
      'a=1; user-group=canary',
      'user-group=canary; b=2',
      'a=1;user-group=canary;b=2',
    ])
      assert.ok(headerMatches(regex, cookie), `should match: ${cookie}`);
    for (const cookie of [
      'user-group=stable',
      'user-group=canary2',
      'xuser-group=canary',
      'a=user-group=canary',
      '',
    ])
      assert.ok(!headerMatches(regex, cookie), `should not match: ${cookie}`);
  });

  it('Istio objects carry the routes and subsets the Rollout names; no destination trusts or sets x-canary', async () => {
    const objects = await rendered();
    const istio = (await rolloutOf()).spec.strategy.canary.trafficRouting.istio;
    const virtualService = findObject(objects, 'VirtualService', istio.virtualService.name);
    const destinationRule = findObject(objects, 'DestinationRule', istio.destinationRule.name);
    const subsets = destinationRule.spec.subsets.map((s: { name: string }) => s.name);
    assert.deepEqual(
      subsets.sort(),
      [istio.destinationRule.canarySubsetName, istio.destinationRule.stableSubsetName].sort(),
    );
    for (const routeName of istio.virtualService.routes) {
      const route = virtualService.spec.http.find((r: { name?: string }) => r.name === routeName);
      assert.ok(route, `route ${routeName} missing`);
      const bySubset = Object.fromEntries(
        route.route.map((d: { destination: { subset: string; host: string } }) => [d.destination.subset, d]),
      );
      const stable = bySubset[istio.destinationRule.stableSubsetName];
      const canary = bySubset[istio.destinationRule.canarySubsetName];
      assert.equal(stable.weight, 100, 'resting state: all traffic to stable');
      assert.equal(canary.weight, 0);
      assert.equal(stable.destination.host, destinationRule.spec.host);
      for (const destination of [stable, canary]) {
        assert.deepEqual(destination.headers.request.remove, ['x-canary']);
        assert.equal(destination.headers.request.set, undefined, 'the mesh marks no request');
      }
    }
  });

  it('the Rollout runs the base pod template, the HPA scales the Rollout and the Deployment runs no pods', async () => {
    const objects = await rendered();
    const rollout = await rolloutOf();
    const deployment = findObject(objects, 'Deployment', rollout.spec.workloadRef.name);
    assert.equal(deployment.spec.replicas, 0);
    const hpa = findObject(objects, 'HorizontalPodAutoscaler');
    assert.deepEqual(hpa.spec.scaleTargetRef, {
      apiVersion: rollout.apiVersion,
      kind: 'Rollout',
      name: 'user-service',
    });
    assert.equal(deployment.spec.template.metadata.labels['sidecar.istio.io/inject'], 'true');
    const ingress = findObject(objects, 'Ingress');
    assert.equal(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/service-upstream'], 'true');
    const service = findObject(objects, 'Service', 'user-service');
    assert.equal(
      ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/upstream-vhost'],
      `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`,
    );
  });
});

describe('canary identity comes from the pod, never from a client', { skip }, () => {
  it('the pod label canary (canaryMetadata/stableMetadata) is the file CANARY in the CONFIG_DIR the service reads', async () => {
    const objects = await renderOverlay('prod');
    const canary = findObject(objects, 'Rollout').spec.strategy.canary;
    assert.deepEqual(canary.canaryMetadata.labels, { canary: 'true' });
    assert.deepEqual(canary.stableMetadata.labels, { canary: 'false' });
    const deployment = findObject(objects, 'Deployment', 'user-service');
    const spec = podSpecOf(deployment);
    const volume = spec.volumes.find((v: { downwardAPI?: unknown }) => v.downwardAPI);
    assert.ok(volume, 'no downward-API volume');
    assert.deepEqual(volume.downwardAPI.items, [
      { path: 'CANARY', fieldRef: { fieldPath: "metadata.labels['canary']" } },
    ]);
    const mount = spec.containers[0].volumeMounts.find((m: { name: string }) => m.name === volume.name);
    const configMap = serviceConfigMap(objects);
    assert.equal(configMap.data.CONFIG_DIR, mount.mountPath);
    // The label values decode as the service's CANARY setting, and it follows a change without a restart.
    for (const [value, expected] of [
      ['true', true],
      ['false', false],
    ] as const)
      assert.equal(
        decodeConfig(usersConfigSchema, { CANARY: { value, origin: 'downward API' } }).values.CANARY,
        expected,
      );
    assert.ok(reloadableKeys(usersConfigSchema).has('CANARY'), 'a promoted pod must stop reporting canary');
  });

  for (const environment of ['dev', 'staging', 'prod'])
    it(`${environment}: the Ingress clears a client's x-canary and no setting fixes CANARY`, async () => {
      const objects = await renderOverlay(environment);
      for (const ingress of objects.filter((o) => o.kind === 'Ingress'))
        assert.match(
          ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/configuration-snippet'] ?? '',
          /^more_clear_input_headers "x-canary";$/m,
          `${environment} Ingress/${ingress.metadata.name}`,
        );
      for (const configMap of objects.filter((o) => o.kind === 'ConfigMap'))
        assert.equal(configMap.data?.CANARY, undefined, `${configMap.metadata.name} sets CANARY`);
      for (const { container } of containersOf(objects))
        assert.ok(!(container.env ?? []).some((e: { name: string }) => e.name === 'CANARY'));
    });
});

describe('Vault component (staging, prod)', { skip }, () => {
  for (const environment of ['staging', 'prod']) {
    it(`${environment}: the agent renders the file DATABASE_PASSWORD_FILE names, and no Secret volume is left`, async () => {
      const objects = await renderOverlay(environment);
      const deployment: K8sObject = findObject(objects, 'Deployment', 'user-service');
      const annotations = deployment.spec.template.metadata.annotations as Record<string, string>;
      assert.equal(annotations['vault.hashicorp.com/agent-inject'], 'true');
      assert.ok(annotations['vault.hashicorp.com/role']);
      const secretNames = Object.keys(annotations)
        .filter((key) => key.startsWith('vault.hashicorp.com/agent-inject-secret-'))
        .map((key) => key.slice('vault.hashicorp.com/agent-inject-secret-'.length));
      assert.deepEqual(secretNames, ['database-password']);
      assert.match(
        annotations['vault.hashicorp.com/agent-inject-template-database-password']!,
        /\.Data\.data\.password/,
      );
      const configMap = serviceConfigMap(objects);
      assert.equal(configMap.data.DATABASE_PASSWORD_FILE, '/vault/secrets/database-password');
      const spec = podSpecOf(deployment);
      assert.equal(
        spec.automountServiceAccountToken,
        true,
        'Kubernetes auth needs the service-account token',
      );
      // Only the canary's pod-identity (downward API) volume may remain.
      const volumes = (spec.volumes ?? []) as { name: string; secret?: unknown; downwardAPI?: unknown }[];
      assert.deepEqual(
        volumes.filter((volume) => !volume.downwardAPI),
        [],
      );
      const mounts = (spec.containers[0].volumeMounts ?? []) as { name: string }[];
      assert.deepEqual(
        mounts.filter((mount) => !volumes.some((volume) => volume.name === mount.name)),
        [],
      );
    });
  }
});

describe('Ingress rewrite', { skip }, () => {
  it('strips the /user-service prefix the way ingress-nginx applies rewrite-target', async () => {
    const ingress = findObject(await renderOverlay('dev'), 'Ingress');
    const [path] = ingress.spec.rules[0].http.paths;
    const target = ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/rewrite-target'] ?? '';
    assert.equal(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/use-regex'], 'true');
    assert.equal(path.pathType, 'ImplementationSpecific', 'regex paths need ImplementationSpecific');
    // nginx: location ~* "^<path>" { rewrite "(?i)<path>" <target> break; }
    const rewrite = (uri: string) => {
      const match = new RegExp(`^${path.path}`, 'i').exec(uri);
      return match
        ? target.replaceAll(/\$(\d)/g, (_, group: string) => match[Number(group)] ?? '')
        : undefined;
    };
    assert.equal(rewrite('/user-service/users/42'), '/users/42');
    assert.equal(rewrite('/user-service/readyz'), '/readyz');
    assert.equal(rewrite('/user-service'), '/');
    assert.equal(rewrite('/user-service/'), '/');
    assert.equal(rewrite('/user-services/users'), undefined);
  });
});
