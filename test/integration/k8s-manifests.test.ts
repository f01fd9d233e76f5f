import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { describe, it } from 'node:test';
import {
  containersOf,
  imageTag,
  type K8sObject,
  PINNED_ENVIRONMENTS,
  podSpecOf,
} from '../../deploy/ci/kustomize.ts';
import {
  findKustomizations,
  matches,
  podLabelsOf,
  render,
  repoRelative,
} from '../support/kubernetes-manifests.ts';
import { validateAgainstModel } from '../support/kubernetes-models.ts';
import { needs } from '../support/requirements.ts';

const skip = needs('kubectl');
const kustomizations = findKustomizations();
const WORKLOAD_KINDS = new Set([
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'Job',
  'CronJob',
  'Rollout',
  'Pod',
]);

/** Policy every container we ship follows; returns one line per breach. */
function containerPolicyBreaches(objects: K8sObject[]): string[] {
  const breaches: string[] = [];
  for (const { owner, container, init } of containersOf(objects)) {
    const where = `${owner.kind}/${owner.metadata.name} container ${container.name}`;
    const pod = podSpecOf(owner).securityContext ?? {};
    const own = container.securityContext ?? {};
    for (const kind of ['requests', 'limits'])
      for (const resource of ['cpu', 'memory'])
        if (!container.resources?.[kind]?.[resource]) breaches.push(`${where}: no ${kind}.${resource}`);
    // Jobs run to completion: probes are for long-running pods.
    if (!init && owner.kind !== 'Job' && owner.kind !== 'CronJob') {
      if (!container.readinessProbe) breaches.push(`${where}: no readinessProbe`);
      if (!container.livenessProbe) breaches.push(`${where}: no livenessProbe`);
    }
    if ((own.runAsNonRoot ?? pod.runAsNonRoot) !== true) breaches.push(`${where}: runAsNonRoot is not true`);
    if ((own.runAsUser ?? pod.runAsUser) === 0) breaches.push(`${where}: runs as uid 0`);
    if (own.readOnlyRootFilesystem !== true) breaches.push(`${where}: root filesystem is writable`);
    if (own.allowPrivilegeEscalation !== false)
      breaches.push(`${where}: allowPrivilegeEscalation is not false`);
    if (own.privileged === true) breaches.push(`${where}: privileged`);
    if (!own.capabilities?.drop?.includes('ALL')) breaches.push(`${where}: capabilities do not drop ALL`);
    if ((own.seccompProfile ?? pod.seccompProfile)?.type === undefined)
      breaches.push(`${where}: no seccompProfile (RuntimeDefault)`);
  }
  return breaches;
}

/** Selectors, references between objects and port wiring; one line per breach. */
function wiringBreaches(objects: K8sObject[]): string[] {
  const breaches: string[] = [];
  const byKindName = (kind: string, name: string, namespace?: string) =>
    objects.find((o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === namespace);
  const workloads = objects.filter((o) => WORKLOAD_KINDS.has(o.kind));
  /** Pod labels of a workload; a Rollout with workloadRef takes the Deployment's template. */
  const labelsOf = (workload: K8sObject): Record<string, string> => {
    const reference = workload.spec?.workloadRef;
    if (!reference) return podLabelsOf(workload);
    const target = byKindName(reference.kind, reference.name, workload.metadata.namespace);
    return target ? podLabelsOf(target) : {};
  };
  const podSpecFor = (workload: K8sObject) => {
    const reference = workload.spec?.workloadRef;
    const target = reference
      ? byKindName(reference.kind, reference.name, workload.metadata.namespace)
      : workload;
    return target ? podSpecOf(target) : undefined;
  };

  for (const workload of workloads) {
    const where = `${workload.kind}/${workload.metadata.name}`;
    const reference = workload.spec?.workloadRef;
    if (reference && !byKindName(reference.kind, reference.name, workload.metadata.namespace))
      breaches.push(`${where}: workloadRef ${reference.kind}/${reference.name} is not in the render`);
    const selector = workload.spec?.selector?.matchLabels;
    if (selector && !matches(selector, labelsOf(workload)))
      breaches.push(`${where}: selector ${JSON.stringify(selector)} does not match its pod labels`);
  }

  const namespaceWorkloads = (namespace?: string) =>
    workloads.filter((w) => w.metadata.namespace === namespace);
  for (const service of objects.filter((o) => o.kind === 'Service' && o.spec?.selector)) {
    const where = `Service/${service.metadata.name}`;
    const selected = namespaceWorkloads(service.metadata.namespace).filter(
      (w) => matches(service.spec.selector, labelsOf(w)) && (w.spec?.replicas ?? 1) > 0,
    );
    if (selected.length === 0) {
      breaches.push(
        `${where}: selector ${JSON.stringify(service.spec.selector)} selects no running workload`,
      );
      continue;
    }
    for (const port of service.spec.ports ?? []) {
      const target = port.targetPort ?? port.port;
      for (const workload of selected) {
        const containerPorts = (podSpecFor(workload)?.containers ?? []).flatMap(
          (c: { ports?: { name?: string; containerPort: number }[] }) => c.ports ?? [],
        );
        const found = containerPorts.some((p: { name?: string; containerPort: number }) =>
          typeof target === 'string' ? p.name === target : p.containerPort === target,
        );
        if (!found)
          breaches.push(
            `${where}: targetPort ${target} is no container port of ${workload.kind}/${workload.metadata.name}`,
          );
      }
    }
  }

  for (const pdb of objects.filter((o) => o.kind === 'PodDisruptionBudget')) {
    const selector = pdb.spec?.selector?.matchLabels;
    if (!namespaceWorkloads(pdb.metadata.namespace).some((w) => matches(selector, labelsOf(w))))
      breaches.push(`PodDisruptionBudget/${pdb.metadata.name}: selector matches no workload`);
  }
  for (const policy of objects.filter((o) => o.kind === 'NetworkPolicy')) {
    const selector = policy.spec?.podSelector?.matchLabels;
    if (
      selector &&
      !namespaceWorkloads(policy.metadata.namespace).some((w) => matches(selector, labelsOf(w)))
    )
      breaches.push(`NetworkPolicy/${policy.metadata.name}: podSelector matches no workload`);
  }
  for (const hpa of objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')) {
    const { kind, name, apiVersion } = hpa.spec.scaleTargetRef;
    const target = byKindName(kind, name, hpa.metadata.namespace);
    if (!target || target.apiVersion !== apiVersion)
      breaches.push(
        `HorizontalPodAutoscaler/${hpa.metadata.name}: target ${apiVersion} ${kind}/${name} is not in the render`,
      );
    if (hpa.spec.minReplicas > hpa.spec.maxReplicas)
      breaches.push(`HorizontalPodAutoscaler/${hpa.metadata.name}: minReplicas above maxReplicas`);
  }
  for (const ingress of objects.filter((o) => o.kind === 'Ingress')) {
    for (const rule of ingress.spec?.rules ?? []) {
      for (const path of rule.http?.paths ?? []) {
        const backend = path.backend?.service;
        const service = byKindName('Service', backend?.name, ingress.metadata.namespace);
        const port = service?.spec.ports?.find(
          (p: { name?: string; port: number }) =>
            p.name === backend?.port?.name || p.port === backend?.port?.number,
        );
        if (!port)
          breaches.push(
            `Ingress/${ingress.metadata.name}: backend ${backend?.name}:${JSON.stringify(backend?.port)} is no Service port`,
          );
      }
    }
  }
  for (const object of objects) {
    for (const reference of [
      ...(podSpecOf(object)?.containers ?? []).flatMap(
        (c: { envFrom?: { configMapRef?: { name: string } }[] }) => c.envFrom ?? [],
      ),
    ]) {
      const name = reference.configMapRef?.name;
      if (name && !byKindName('ConfigMap', name, object.metadata.namespace))
        breaches.push(
          `${object.kind}/${object.metadata.name}: envFrom ConfigMap ${name} is not in the render`,
        );
    }
    const serviceAccount = podSpecOf(object)?.serviceAccountName;
    if (serviceAccount && !byKindName('ServiceAccount', serviceAccount, object.metadata.namespace))
      breaches.push(
        `${object.kind}/${object.metadata.name}: ServiceAccount ${serviceAccount} is not in the render`,
      );
  }
  return breaches;
}

describe('Kubernetes manifests', { skip }, () => {
  it('finds the overlays and every other kustomization under deploy/', () => {
    const names = kustomizations.map(repoRelative);
    for (const environment of ['dev', 'staging', 'prod'])
      assert.ok(
        names.includes(`deploy/k8s/overlays/${environment}`),
        `overlay ${environment} missing: ${names}`,
      );
  });

  for (const directory of kustomizations) {
    const name = repoRelative(directory);
    describe(name, () => {
      it('renders with kubectl kustomize, and every object validates against its official schema', async () => {
        const objects = await render(directory);
        assert.ok(objects.length > 0, 'renders no objects');
        const failures: string[] = [];
        for (const object of objects) {
          try {
            await validateAgainstModel(object);
          } catch (error) {
            failures.push((error as Error).message);
          }
        }
        assert.deepEqual(failures, []);
      });

      it('every container has requests, limits, probes, a non-root user and a read-only root', async () => {
        assert.deepEqual(containerPolicyBreaches(await render(directory)), []);
      });

      it('selectors match pod labels; Service, Ingress, HPA and PDB point at what exists', async () => {
        assert.deepEqual(wiringBreaches(await render(directory)), []);
      });

      if (PINNED_ENVIRONMENTS.has(basename(directory))) {
        it('pins every image to a release tag (no latest, no untagged image)', async () => {
          for (const { container } of containersOf(await render(directory))) {
            const tag = imageTag(container.image);
            assert.ok(tag !== 'latest', `${container.name} uses ${container.image}`);
            assert.notEqual(
              container.imagePullPolicy,
              'Always',
              `${container.name} pulls Always like a moving tag`,
            );
          }
        });
      }
    });
  }

  it('the policy checks catch a breach (a writable, root, unbounded container; a selector that matches nothing)', () => {
    const broken: K8sObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'broken' },
      spec: {
        selector: { matchLabels: { app: 'other' } },
        template: {
          metadata: { labels: { app: 'broken' } },
          spec: { containers: [{ name: 'c', image: 'x:1', securityContext: { runAsUser: 0 } }] },
        },
      },
    };
    const breaches = [...containerPolicyBreaches([broken]), ...wiringBreaches([broken])].join('\n');
    for (const expected of [
      'no requests.cpu',
      'no limits.memory',
      'no readinessProbe',
      'runs as uid 0',
      'writable',
      'selector',
    ])
      assert.match(breaches, new RegExp(expected));
  });

  it('schema validation rejects a wrong type and a kind without a model', async () => {
    await assert.rejects(
      validateAgainstModel({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'typo' },
        spec: { ports: [{ port: '80' }] },
      }),
      /must be integer/,
    );
    await assert.rejects(
      validateAgainstModel({ apiVersion: 'example.com/v1', kind: 'Unknown', metadata: { name: 'x' } }),
      /no schema model/,
    );
  });
});
