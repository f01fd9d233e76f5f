import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TSchema } from 'typebox';
import { containersOf, type K8sContainer, type K8sObject, podSpecOf } from '../../deploy/ci/kustomize.ts';
import { loadServiceSchemas } from '../../scripts/docs.ts';
import { decodeConfig, FILE_SUFFIX } from '../../src/platform/config/load-config.ts';
import { usersConfigSchema } from '../../src/services/users/config.ts';
import {
  findKustomizations,
  findObject,
  render,
  renderOverlay,
  repoRelative,
} from '../support/kubernetes-manifests.ts';
import { needs } from '../support/requirements.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

// The manifests against the code they run: probe routes, port, config keys and timings must agree with both.
const skip = needs('kubectl');
const ENVIRONMENTS = ['dev', 'staging', 'prod'];
/** Read by Node itself, not by the service's config. */
const RUNTIME_ENV = new Set(['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS']);
const properties = usersConfigSchema.properties as Record<string, TSchema & { default?: unknown }>;

function userServiceContainer(objects: K8sObject[]): { owner: K8sObject; container: K8sContainer } {
  const found = containersOf(objects).find(
    ({ container, init }) => !init && container.name === 'user-service',
  );
  assert.ok(found, 'no user-service container in the render');
  return found;
}

/** What the container's environment holds: its ConfigMaps (envFrom) overlaid by its own env entries. */
function environmentOf(
  objects: K8sObject[],
  container: K8sContainer,
  namespace?: string,
): Map<string, string> {
  const environment = new Map<string, string>();
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name;
    if (!name) continue;
    const configMap = objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name === name && o.metadata.namespace === namespace,
    );
    assert.ok(configMap, `ConfigMap ${name} missing`);
    for (const [key, value] of Object.entries(configMap.data ?? {})) environment.set(key, String(value));
  }
  for (const entry of container.env ?? []) environment.set(entry.name, entry.value ?? '');
  return environment;
}

/** Environment keys a service's config schema does not know (KEY_FILE counts as KEY). */
function unknownKeys(keys: Iterable<string>, known: Record<string, unknown>): string[] {
  return [...keys].filter((key) => {
    if (RUNTIME_ENV.has(key)) return false;
    const base = key.endsWith(FILE_SUFFIX) ? key.slice(0, -FILE_SUFFIX.length) : key;
    return !(base in known);
  });
}

function configValue(environment: Map<string, string>, key: string): number {
  const value = environment.get(key) ?? properties[key]?.default;
  assert.ok(value !== undefined, `${key} has neither a value nor a default`);
  return Number(value);
}

/** Quantity like 128Mi, 1Gi or 134217728 in MiB. */
function mebibytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|M|G)?$/.exec(quantity);
  assert.ok(match, `unexpected memory quantity ${quantity}`);
  const factor =
    { Ki: 1 / 1024, Mi: 1, Gi: 1024, M: 1e6 / 2 ** 20, G: 1e9 / 2 ** 20 }[match[2] ?? ''] ?? 1 / 2 ** 20;
  return Number(match[1]) * factor;
}

describe('Kubernetes manifests against the code', { skip }, () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp('memory://');
  });
  after(async () => {
    await app?.close();
  });

  for (const environment of ENVIRONMENTS) {
    describe(`overlay ${environment}`, () => {
      it('every probe path is a route of the service (200 or 503, never 404)', async () => {
        const { container } = userServiceContainer(await renderOverlay(environment));
        const probes = ['startupProbe', 'livenessProbe', 'readinessProbe'].filter((p) => container[p]);
        assert.deepEqual(probes, ['startupProbe', 'livenessProbe', 'readinessProbe']);
        for (const probe of probes) {
          const path = container[probe].httpGet?.path;
          assert.ok(path, `${probe} is not an HTTP probe`);
          const response = await app.app.inject({ method: 'GET', url: path });
          assert.ok(
            [200, 503].includes(response.statusCode),
            `${probe} ${path} answered ${response.statusCode}`,
          );
        }
      });

      it('the container port is the service PORT (schema default and configured value)', async () => {
        const objects = await renderOverlay(environment);
        const { owner, container } = userServiceContainer(objects);
        const ports = (container.ports ?? []).map((p: { containerPort: number }) => p.containerPort);
        assert.deepEqual(ports, [properties.PORT!.default]);
        const configured = environmentOf(objects, container, owner.metadata.namespace).get('PORT');
        if (configured !== undefined) assert.equal(Number(configured), properties.PORT!.default);
      });

      it('every environment key is a config key (or KEY_FILE of one), and the values decode', async () => {
        const objects = await renderOverlay(environment);
        const { owner, container } = userServiceContainer(objects);
        const values = environmentOf(objects, container, owner.metadata.namespace);
        assert.deepEqual(unknownKeys(values.keys(), properties), [], 'keys the service does not know');
        // Files named by KEY_FILE exist only in the pod; the plain values must pass the service's own decoding.
        const layer = Object.fromEntries(
          [...values]
            .filter(([key]) => key in properties)
            .map(([key, value]) => [key, { value, origin: `manifest ${environment}` }]),
        );
        assert.doesNotThrow(() => decodeConfig(usersConfigSchema, layer));
      });

      it('the grace period covers the preStop pause, the drain delay and the shutdown timeout', async () => {
        const objects = await renderOverlay(environment);
        const { owner, container } = userServiceContainer(objects);
        const values = environmentOf(objects, container, owner.metadata.namespace);
        const preStopSeconds = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
        assert.equal(
          container.lifecycle?.preStop?.exec,
          undefined,
          'the image has no shell for an exec hook',
        );
        const drainSeconds = configValue(values, 'SHUTDOWN_DELAY_MS') / 1000;
        assert.ok(
          preStopSeconds + drainSeconds >= 3,
          'no pause lets endpoints drain before the listener closes',
        );
        const needed = preStopSeconds + drainSeconds + configValue(values, 'SHUTDOWN_TIMEOUT_MS') / 1000;
        const grace = podSpecOf(owner).terminationGracePeriodSeconds ?? 30;
        assert.ok(grace >= needed, `terminationGracePeriodSeconds ${grace} < ${needed} s needed`);
      });

      it('the readiness probe waits longer than the service bounds its own checks', async () => {
        const objects = await renderOverlay(environment);
        const { owner, container } = userServiceContainer(objects);
        const values = environmentOf(objects, container, owner.metadata.namespace);
        const timeoutMs = (container.readinessProbe.timeoutSeconds ?? 1) * 1000;
        assert.ok(timeoutMs > configValue(values, 'READINESS_TIMEOUT_MS'));
      });

      it('the V8 heap cap leaves a third of the memory limit for everything else', async () => {
        const { container } = userServiceContainer(await renderOverlay(environment));
        const options =
          (container.env ?? []).find((e: { name: string }) => e.name === 'NODE_OPTIONS')?.value ?? '';
        const heap = Number(/--max-old-space-size=(\d+)/.exec(options)?.[1]);
        assert.ok(heap > 0, 'NODE_OPTIONS sets no --max-old-space-size');
        const limit = mebibytes(container.resources.limits.memory);
        assert.ok(heap <= limit * 0.7, `old space ${heap} MiB in a ${limit} MiB limit`);
        assert.ok(heap >= limit * 0.4, `old space ${heap} MiB wastes a ${limit} MiB limit`);
      });
    });
  }

  it('the mesh sets no canary header, and a client-sent one leaves a stable pod stable', async () => {
    const objects = await renderOverlay('prod');
    for (const route of findObject(objects, 'VirtualService').spec.http)
      for (const destination of route.route)
        assert.equal(destination.headers?.request?.set?.['x-canary'], undefined);
    await app.app.inject({ method: 'GET', url: '/users?limit=1', headers: { 'x-canary': 'true' } });
    const metrics = await app.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(metrics.statusCode, 200);
    assert.doesNotMatch(metrics.body, /http_requests_total\{[^}]*canary="true"/);
    assert.match(metrics.body, /http_requests_total\{[^}]*route="\/users"[^}]*canary="false"/);
  });

  it('every container of every service, in every kustomization under deploy/, uses only its config keys and its port', async () => {
    // A container belongs to the service whose SERVICE_NAME default is its name (user-service, alert-relay, ...).
    const services = new Map<string, Record<string, TSchema & { default?: unknown }>>();
    for (const schema of (await loadServiceSchemas()).values()) {
      const schemaProperties = schema.properties as Record<string, TSchema & { default?: unknown }>;
      services.set(String(schemaProperties.SERVICE_NAME?.default), schemaProperties);
    }
    const problems: string[] = [];
    let checked = 0;
    for (const directory of findKustomizations()) {
      const objects = await render(directory);
      for (const { owner, container, init } of containersOf(objects)) {
        const known = services.get(container.name);
        if (!known || init) continue;
        checked++;
        const where = `${repoRelative(directory)} ${owner.kind}/${owner.metadata.name}`;
        const keys = environmentOf(objects, container, owner.metadata.namespace).keys();
        for (const key of unknownKeys(keys, known))
          problems.push(`${where}: ${key} is no config key of ${container.name}`);
        for (const port of container.ports ?? [])
          if (port.containerPort !== known.PORT?.default)
            problems.push(
              `${where}: port ${port.containerPort}, the service listens on ${known.PORT?.default}`,
            );
      }
    }
    assert.ok(checked >= 4, `only ${checked} service containers found`);
    assert.deepEqual(problems, []);
  });
});
