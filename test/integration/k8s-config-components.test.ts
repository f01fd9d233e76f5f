import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type K8sObject, kustomizeBuild, parseManifests, podSpecOf } from '../../deploy/ci/kustomize.ts';
import { FILE_SUFFIX } from '../../src/platform/config/load-config.ts';
import { usersConfigSchema } from '../../src/services/users/config.ts';
import { findObject, REPO_ROOT, renderOverlay } from '../support/kubernetes-manifests.ts';
import { validateAgainstModel } from '../support/kubernetes-models.ts';
import { needs } from '../support/requirements.ts';
import { capabilitiesOn, loadPolicies, loadRoles } from '../support/vault-policies.ts';

const skip = needs('kubectl');
const properties = usersConfigSchema.properties as Record<string, unknown>;
const policies = loadPolicies();

/** The service's Deployment and ConfigMap in a render. */
function serviceParts(objects: K8sObject[]) {
  const deployment = findObject(objects, 'Deployment', 'user-service');
  const spec = podSpecOf(deployment);
  const [container] = spec.containers;
  const configMap = findObject(objects, 'ConfigMap', container.envFrom[0].configMapRef.name);
  return { deployment, spec, container, data: configMap.data as Record<string, string> };
}

/** Resolves a KEY_FILE path to the Secret key mounted there, or fails. */
function secretKeyAt(spec: K8sObject['spec'], container: K8sObject['spec'], path: string) {
  const mount = (container.volumeMounts ?? []).find((m: { mountPath: string }) =>
    path.startsWith(`${m.mountPath}/`),
  );
  assert.ok(mount, `nothing is mounted at ${path}`);
  const volume = spec.volumes.find((v: { name: string }) => v.name === mount.name);
  const item = volume?.secret?.items?.find(
    (i: { path: string }) => i.path === path.slice(mount.mountPath.length + 1),
  );
  assert.ok(item, `${path} is no item of a Secret volume`);
  return { secretName: volume.secret.secretName as string, key: item.key as string };
}

/** Every ConfigMap key is a config key of the service (KEY_FILE counts as KEY). */
function assertKnownKeys(data: Record<string, string>) {
  for (const key of Object.keys(data)) {
    const base = key.endsWith(FILE_SUFFIX) ? key.slice(0, -FILE_SUFFIX.length) : key;
    assert.ok(base in properties, `${key} is no config key of the service`);
  }
}

describe('config-centre and secret components', { skip }, () => {
  let root: string;
  const rendered = new Map<string, K8sObject[]>();

  /** Base plus one component, in the prod namespace, as an overlay would use it. */
  async function renderWith(component: string): Promise<K8sObject[]> {
    const directory = join(root, component);
    const base = relative(directory, join(REPO_ROOT, 'deploy/k8s/base'));
    const parts = relative(directory, join(REPO_ROOT, 'deploy/k8s/components', component));
    await mkdir(directory);
    await writeFile(
      join(directory, 'kustomization.yaml'),
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: user-service\nresources:\n  - ${base}\ncomponents:\n  - ${parts}\n`,
    );
    return parseManifests(await kustomizeBuild(directory));
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'k8s-components-'));
    for (const component of ['consul-config', 'vault-approle'])
      rendered.set(component, await renderWith(component));
  });
  after(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('both render objects that validate against their schemas', async () => {
    for (const objects of rendered.values()) for (const object of objects) await validateAgainstModel(object);
  });

  it('consul-config: the service reads Consul KV with its ACL token from a Secret file', () => {
    const { spec, container, data } = serviceParts(rendered.get('consul-config')!);
    assertKnownKeys(data);
    assert.equal(data.CONFIG_CENTRE, 'consul');
    assert.match(data.CONSUL_HTTP_ADDR!, /^http:\/\/.+:8500$/);
    assert.match(data.CONSUL_KV_PREFIX!, /^config\/user-service\/$/);
    assert.equal(data.CONSUL_HTTP_TOKEN, undefined, 'the token never sits in a ConfigMap');
    assert.deepEqual(secretKeyAt(spec, container, data.CONSUL_HTTP_TOKEN_FILE!), {
      secretName: 'user-service-consul-token',
      key: 'token',
    });
  });

  it('vault-approle: the service logs in with AppRole from Secret files and reads a path its role may read', () => {
    const { spec, container, data } = serviceParts(rendered.get('vault-approle')!);
    assertKnownKeys(data);
    assert.equal(data.VAULT_AUTH_METHOD, 'approle');
    assert.match(data.VAULT_ADDR!, /^https:\/\//);
    assert.equal(data.VAULT_SECRET_ID, undefined, 'the secret_id never sits in a ConfigMap');
    for (const [file, key] of [
      [data.VAULT_ROLE_ID_FILE!, 'role_id'],
      [data.VAULT_SECRET_ID_FILE!, 'secret_id'],
    ])
      assert.deepEqual(secretKeyAt(spec, container, file!), {
        secretName: 'user-service-vault-approle',
        key,
      });
    const role = loadRoles('approle').get('user-service-prod-reader')!;
    const path = `${data.VAULT_KV_MOUNT}/data/${data.VAULT_SECRET_PATH}`;
    const granted = capabilitiesOn(
      role.token_policies.map((name) => policies.get(name)!),
      path,
    );
    assert.ok(granted.has('read'), `the prod-reader role cannot read ${path}`);
  });

  for (const environment of ['staging', 'prod'])
    it(`${environment}: the Vault Agent logs in with a Kubernetes role bound to this namespace that may read the injected secret`, async () => {
      const objects = await renderOverlay(environment);
      const { deployment, spec } = serviceParts(objects);
      const annotations = deployment.spec.template.metadata.annotations as Record<string, string>;
      const role = loadRoles('kubernetes').get(annotations['vault.hashicorp.com/role']!);
      assert.ok(role, `no deploy/vault role ${annotations['vault.hashicorp.com/role']}`);
      assert.deepEqual(role.bound_service_account_namespaces, [deployment.metadata.namespace]);
      assert.deepEqual(role.bound_service_account_names, [spec.serviceAccountName]);
      const path = annotations['vault.hashicorp.com/agent-inject-secret-database-password']!;
      assert.ok(
        annotations['vault.hashicorp.com/agent-inject-template-database-password']!.includes(`"${path}"`),
      );
      const granted = capabilitiesOn(
        role.token_policies.map((name) => policies.get(name)!),
        path,
      );
      assert.ok(granted.has('read'), `${environment} cannot read ${path}`);
    });
});
