import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type K8sObject, podSpecOf } from '../../deploy/ci/kustomize.ts';
import { renderQuery } from '../../deploy/monitoring/queries.ts';
import { measure } from '../support/argo-analysis.ts';
import { findObject, renderOverlay } from '../support/kubernetes-manifests.ts';
import { needs } from '../support/requirements.ts';

const skip = needs('kubectl');
/** The canary's series: the service's own, on requests the mesh marked `x-canary: true`. */
const CANARY_SELECTOR = 'service="user-service",canary="true"';
const ANALYSIS_WINDOW = '2m';
/** AnalysisTemplate metric → shared query and the threshold a measurement must not exceed. */
const GATES: Record<string, { query: string; threshold: number }> = {
  'p99-latency-seconds': { query: 'p99_latency_seconds', threshold: 0.8 },
  'error-ratio': { query: 'error_ratio', threshold: 0.01 },
};

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

  it('Istio objects carry the routes and subsets the Rollout names; canary traffic is marked, stable is not', async () => {
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
      assert.deepEqual(canary.headers.request.set, { 'x-canary': 'true' });
      assert.deepEqual(stable.headers.request.remove, ['x-canary']);
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
    const service = findObject(objects, 'Service');
    assert.equal(
      ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/upstream-vhost'],
      `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`,
    );
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
      const configMap = findObject(objects, 'ConfigMap');
      assert.equal(configMap.data.DATABASE_PASSWORD_FILE, '/vault/secrets/database-password');
      const spec = podSpecOf(deployment);
      assert.equal(
        spec.automountServiceAccountToken,
        true,
        'Kubernetes auth needs the service-account token',
      );
      assert.deepEqual(spec.volumes ?? [], []);
      assert.deepEqual(spec.containers[0].volumeMounts ?? [], []);
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
