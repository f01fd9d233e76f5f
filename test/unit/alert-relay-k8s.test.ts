import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { decodeConfig } from '../../src/platform/config/load-config.ts';
import { relayConfigSchema } from '../../src/services/alert-relay/config.ts';
import { kubectlSkip, REPO_ROOT, render } from '../support/kubernetes-manifests.ts';

const skip = kubectlSkip();
const DIRECTORY = join(REPO_ROOT, 'deploy/k8s/alert-relay');

/** The whole permission set the relay may have: anything more (or a wildcard) is a breach. */
const ALLOWED = new Set([
  '/pods:get',
  'apps/replicasets:get',
  'apps/deployments/scale:get',
  'apps/deployments/scale:patch',
  'argoproj.io/rollouts/scale:get',
  'argoproj.io/rollouts/scale:patch',
  'autoscaling/horizontalpodautoscalers:list',
  'autoscaling/horizontalpodautoscalers:patch',
  '/nodes:get',
  '/nodes:list',
  '/nodes:patch',
]);

describe('alert-relay manifests', { skip }, () => {
  test('the ClusterRole grants exactly the remediation calls and is bound to the relay only', async () => {
    const objects = await render(DIRECTORY);
    const role = objects.find((o) => o.kind === 'ClusterRole');
    const granted = new Set<string>();
    for (const rule of role?.rules ?? []) {
      for (const group of rule.apiGroups)
        for (const resource of rule.resources)
          for (const verb of rule.verbs) granted.add(`${group}/${resource}:${verb}`);
    }
    assert.deepEqual([...granted].sort(), [...ALLOWED].sort());
    const binding = objects.find((o) => o.kind === 'ClusterRoleBinding');
    assert.equal(binding?.roleRef.name, role?.metadata.name);
    assert.deepEqual(binding?.subjects, [
      { kind: 'ServiceAccount', name: 'alert-relay', namespace: 'monitoring' },
    ]);
  });

  test('the pod configuration decodes against the relay schema, with secrets from files', async () => {
    const objects = await render(DIRECTORY);
    const configMap = objects.find((o) => o.kind === 'ConfigMap');
    const deployment = objects.find((o) => o.kind === 'Deployment');
    const container = deployment?.spec.template.spec.containers[0];
    const layer: Record<string, { value: string; origin: string }> = {};
    for (const [key, value] of Object.entries(configMap?.data ?? {})) {
      assert.ok(key in relayConfigSchema.properties, `${key} is not a relay config key`);
      layer[key] = { value: String(value), origin: 'configmap' };
    }
    const mount = container.volumeMounts.find((m: { name: string }) => m.name === 'secrets').mountPath;
    for (const entry of container.env as { name: string; value: string }[]) {
      if (!entry.name.endsWith('_FILE')) continue;
      const key = entry.name.slice(0, -'_FILE'.length);
      assert.ok(key in relayConfigSchema.properties, `${entry.name} names no relay config key`);
      assert.ok(entry.value.startsWith(`${mount}/`), `${entry.name} reads outside the secret mount`);
      layer[key] = { value: 'a-secret-value-long-enough', origin: entry.value };
    }
    const { values } = decodeConfig(relayConfigSchema, layer);
    assert.equal(values.REMEDIATION_MODE, 'dry-run', 'ships in dry-run until someone turns it on');
    assert.ok(values.RELAY_WEBHOOK_TOKEN);
    assert.equal(deployment?.spec.replicas, 1, 'guard-rail state is per process: one replica');
    assert.equal(deployment?.spec.strategy.type, 'Recreate');
  });

  test('Alertmanager posts to the Service the kustomization creates', async () => {
    const objects = await render(DIRECTORY);
    const service = objects.find((o) => o.kind === 'Service');
    const { readFile } = await import('node:fs/promises');
    const config = await readFile(join(REPO_ROOT, 'deploy/monitoring/alertmanager.yml'), 'utf8');
    for (const url of config.match(/url: (\S+)/g) ?? []) {
      const parsed = new URL(url.slice('url: '.length));
      assert.equal(parsed.hostname, `${service?.metadata.name}.${service?.metadata.namespace}.svc`);
      assert.equal(Number(parsed.port), service?.spec.ports[0].port);
      assert.equal(parsed.pathname, '/webhook');
    }
  });
});
