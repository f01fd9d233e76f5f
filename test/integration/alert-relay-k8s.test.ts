import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { K8sObject } from '../../deploy/ci/kustomize.ts';
import { decodeConfig } from '../../src/platform/config/load-config.ts';
import { relayConfigSchema } from '../../src/services/alert-relay/config.ts';
import { REPO_ROOT, render } from '../support/kubernetes-manifests.ts';
import { needs } from '../support/requirements.ts';

const skip = needs('kubectl');
const DIRECTORY = join(REPO_ROOT, 'deploy/k8s/alert-relay');

/** Everything the relay may do inside an allowed namespace: anything more (or a wildcard) is a breach. */
const NAMESPACED = new Set([
  '/pods:get',
  '/pods:list',
  'apps/replicasets:get',
  'apps/deployments:get',
  'argoproj.io/rollouts:get',
  'apps/deployments/scale:get',
  'apps/deployments/scale:patch',
  'argoproj.io/rollouts/scale:get',
  'argoproj.io/rollouts/scale:patch',
  'autoscaling/horizontalpodautoscalers:list',
  'autoscaling/horizontalpodautoscalers:patch',
]);
/** The only cluster-wide grant: nodes, which have no namespace, for the cordon. */
const CLUSTER = new Set(['/nodes:get', '/nodes:list', '/nodes:patch']);
const RELAY_ACCOUNT = [{ kind: 'ServiceAccount', name: 'alert-relay', namespace: 'monitoring' }];

type PolicyRule = { apiGroups: string[]; resources: string[]; verbs: string[] };

function grants(role: K8sObject | undefined) {
  const rules = (role as { rules?: PolicyRule[] } | undefined)?.rules;
  const granted = new Set<string>();
  for (const rule of rules ?? []) {
    for (const group of rule.apiGroups)
      for (const resource of rule.resources)
        for (const verb of rule.verbs) granted.add(`${group}/${resource}:${verb}`);
  }
  return [...granted].sort();
}

describe('alert-relay manifests', { skip }, () => {
  test('cluster-wide the relay may only get, list and cordon nodes', async () => {
    const objects = await render(DIRECTORY);
    const clusterRoles = objects.filter((o) => o.kind === 'ClusterRole');
    assert.equal(clusterRoles.length, 1);
    assert.deepEqual(grants(clusterRoles[0]), [...CLUSTER].sort());
    const bindings = objects.filter((o) => o.kind === 'ClusterRoleBinding');
    assert.equal(bindings.length, 1);
    assert.equal(bindings[0]?.roleRef.kind, 'ClusterRole');
    assert.equal(bindings[0]?.roleRef.name, clusterRoles[0]?.metadata.name);
    assert.deepEqual(bindings[0]?.subjects, RELAY_ACCOUNT);
  });

  test("namespaced rights exist only in the allow-list namespaces, which are the overlays' and never kube-system", async () => {
    const objects = await render(DIRECTORY);
    const allowList = String(objects.find((o) => o.kind === 'ConfigMap')?.data.REMEDIATION_NAMESPACES ?? '')
      .split(',')
      .filter(Boolean)
      .sort();
    const overlayNamespaces = await Promise.all(
      ['dev', 'staging', 'prod'].map(
        async (overlay) =>
          (await render(join(REPO_ROOT, 'deploy/k8s/overlays', overlay))).find((o) => o.kind === 'Deployment')
            ?.metadata.namespace,
      ),
    );
    assert.deepEqual(allowList, [...overlayNamespaces].sort());
    assert.ok(!allowList.includes('kube-system'));

    const roles = objects.filter((o) => o.kind === 'Role');
    assert.deepEqual(roles.map((role) => role.metadata.namespace).sort(), allowList);
    for (const role of roles) assert.deepEqual(grants(role), [...NAMESPACED].sort(), role.metadata.namespace);
    const bindings = objects.filter((o) => o.kind === 'RoleBinding');
    assert.deepEqual(bindings.map((binding) => binding.metadata.namespace).sort(), allowList);
    for (const binding of bindings) {
      const role = roles.find((r) => r.metadata.namespace === binding.metadata.namespace);
      assert.deepEqual(binding.roleRef, {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Role',
        name: role?.metadata.name,
      });
      assert.deepEqual(binding.subjects, RELAY_ACCOUNT);
    }
    const own = objects.filter(
      (o) => !['Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind),
    );
    for (const object of own)
      assert.equal(object.metadata.namespace, 'monitoring', `${object.kind} in monitoring`);
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
    assert.equal(values.REMEDIATION_MODE, 'on', 'ships acting (docs/alert-relay.md#default-mode)');
    assert.notEqual(values.REMEDIATION_NAMESPACES, '', 'and only inside its allow-list');
    assert.ok(values.RELAY_WEBHOOK_TOKEN);
    assert.equal(deployment?.spec.replicas, 1, 'guard-rail state is per process: one replica');
    assert.equal(deployment?.spec.strategy.type, 'Recreate');
  });

  test('without the manifest the relay writes nothing: dry-run and an empty allow-list by default', () => {
    const { values } = decodeConfig(relayConfigSchema, {});
    assert.equal(values.REMEDIATION_MODE, 'dry-run');
    assert.equal(values.REMEDIATION_NAMESPACES, '');
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
