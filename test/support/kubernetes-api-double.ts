import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { KubernetesApi } from '../../src/services/alert-relay/remediation/kubernetes-api.ts';
import { HttpDouble, type RecordedRequest, sendJson } from './http-double.ts';

interface Meta {
  name: string;
  namespace?: string;
  resourceVersion: string;
  labels?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; controller: boolean }[];
}

interface Workload {
  kind: 'Deployment' | 'Rollout';
  namespace: string;
  name: string;
  replicas: number;
  resourceVersion: number;
  /** Ready pods; unset means all of them (a healthy workload). */
  readyReplicas?: number;
}

interface DoublePod {
  metadata: Meta;
  spec: { nodeName: string };
  restartCount: number;
}

/** autoscaling/v2 HorizontalPodAutoscaler, the fields the relay reads and writes. */
export interface DoubleAutoscaler {
  metadata: {
    name: string;
    namespace: string;
    resourceVersion: string;
    annotations?: Record<string, string>;
  };
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    minReplicas: number;
    maxReplicas: number;
    metrics: unknown[];
  };
  status: { currentReplicas: number; desiredReplicas: number };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** RFC 7386 JSON merge patch: objects merge key by key, null deletes, anything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const result: { [key: string]: Json } =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key] ?? null, value);
  }
  return result;
}

/**
 * The parts of the Kubernetes API the relay uses, as documented: GET pods (one, or a list by `labelSelector`,
 * with `status.containerStatuses[].restartCount`) and replicasets, GET apps/v1 Deployments and argoproj.io/v1alpha1
 * Rollouts (spec and status), GET/PATCH/PUT their `scale` subresource (autoscaling/v1 Scale), GET/list and PATCH
 * nodes, and GET/list and PATCH (RFC 7386 merge patch) autoscaling/v2 HorizontalPodAutoscalers. Errors are `Status`
 * objects; PATCH needs a patch content type (415 otherwise); a stale resourceVersion is a 409 Conflict; a missing
 * or wrong bearer token is a 401. `reconcileAutoscalers()` does what the HPA controller does on its next sync.
 */
export class KubernetesApiDouble {
  readonly http: HttpDouble;
  readonly token: string;
  readonly pods = new Map<string, DoublePod>();
  readonly replicaSets = new Map<string, { metadata: Meta }>();
  readonly workloads = new Map<string, Workload>();
  readonly nodes = new Map<string, { metadata: Meta; spec: { unschedulable?: boolean } }>();
  readonly autoscalers = new Map<string, DoubleAutoscaler>();
  /** What each HPA's metrics ask for, by `namespace/name`; the controller clamps it to min and max. */
  readonly #metricDesired = new Map<string, number>();
  /** Status codes the next write requests answer with, first to last (then writes succeed again). */
  readonly #failingWrites: number[] = [];
  #version = 100;

  constructor(token: string) {
    this.token = token;
    this.http = new HttpDouble((request, response) => this.#route(request, response));
  }

  get url(): string {
    return this.http.url;
  }

  start(): Promise<HttpDouble> {
    return this.http.start();
  }

  stop(): Promise<void> {
    return this.http.stop();
  }

  /** The relay's client for this double, reading its bearer token from `tokenPath` as a pod reads its own. */
  client(tokenPath: string): KubernetesApi {
    return new KubernetesApi({ baseUrl: this.url, tokenPath, timeoutMs: 2_000 });
  }

  /** Requests that change something (anything but GET). */
  get writes(): RecordedRequest[] {
    return this.http.requests.filter((request) => request.method !== 'GET');
  }

  #rv(): string {
    this.#version += 1;
    return String(this.#version);
  }

  addNode(name: string, unschedulable = false): void {
    this.nodes.set(name, {
      metadata: { name, resourceVersion: this.#rv() },
      spec: unschedulable ? { unschedulable } : {},
    });
  }

  /** A Deployment or Rollout with one ReplicaSet and the given pods on the given nodes. */
  addWorkload(
    kind: Workload['kind'],
    namespace: string,
    name: string,
    replicas: number,
    pods: { name: string; node: string }[],
  ): void {
    this.workloads.set(`${kind}/${namespace}/${name}`, {
      kind,
      namespace,
      name,
      replicas,
      resourceVersion: this.#version++,
    });
    const rsName = `${name}-7d9c5b`;
    this.replicaSets.set(`${namespace}/${rsName}`, {
      metadata: {
        name: rsName,
        namespace,
        resourceVersion: this.#rv(),
        ownerReferences: [
          {
            apiVersion: kind === 'Deployment' ? 'apps/v1' : 'argoproj.io/v1alpha1',
            kind,
            name,
            controller: true,
          },
        ],
      },
    });
    for (const pod of pods) {
      this.pods.set(`${namespace}/${pod.name}`, {
        metadata: {
          name: pod.name,
          namespace,
          resourceVersion: this.#rv(),
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rsName, controller: true }],
        },
        spec: { nodeName: pod.node },
        restartCount: 0,
      });
      const created = this.pods.get(`${namespace}/${pod.name}`);
      if (created) created.metadata.labels = { app: name };
    }
  }

  /** An autoscaling/v2 HPA on the workload; its metrics ask for the workload's current replicas until changed. */
  addHorizontalPodAutoscaler(
    namespace: string,
    name: string,
    target: { kind: Workload['kind']; name: string },
    minReplicas: number,
    maxReplicas: number,
  ): void {
    const replicas = this.replicas(target.kind, namespace, target.name) ?? minReplicas;
    this.autoscalers.set(`${namespace}/${name}`, {
      metadata: { name, namespace, resourceVersion: this.#rv() },
      spec: {
        scaleTargetRef: {
          apiVersion: target.kind === 'Deployment' ? 'apps/v1' : 'argoproj.io/v1alpha1',
          kind: target.kind,
          name: target.name,
        },
        minReplicas,
        maxReplicas,
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
          },
        ],
      },
      status: { currentReplicas: replicas, desiredReplicas: replicas },
    });
    this.#metricDesired.set(`${namespace}/${name}`, replicas);
  }

  autoscaler(namespace: string, name: string): DoubleAutoscaler | undefined {
    return this.autoscalers.get(`${namespace}/${name}`);
  }

  /** One sync of the HPA controller: each target gets its metrics' wish clamped to [minReplicas, maxReplicas]. */
  reconcileAutoscalers(): void {
    for (const [key, hpa] of this.autoscalers) {
      const { kind, name } = hpa.spec.scaleTargetRef;
      const workload = this.workloads.get(`${kind}/${hpa.metadata.namespace}/${name}`);
      if (!workload) continue;
      const wish = this.#metricDesired.get(key) ?? workload.replicas;
      const desired = Math.min(hpa.spec.maxReplicas, Math.max(hpa.spec.minReplicas, wish));
      if (desired !== workload.replicas) {
        workload.replicas = desired;
        workload.resourceVersion = this.#version++;
      }
      hpa.status = { currentReplicas: desired, desiredReplicas: desired };
    }
  }

  /** Ready pods of a workload; undefined makes every replica ready again. */
  setReady(kind: Workload['kind'], namespace: string, name: string, ready: number | undefined): void {
    const workload = this.workloads.get(`${kind}/${namespace}/${name}`);
    if (!workload) throw new Error(`no ${kind} ${namespace}/${name}`);
    workload.readyReplicas = ready;
  }

  setRestarts(namespace: string, pod: string, restartCount: number): void {
    const found = this.pods.get(`${namespace}/${pod}`);
    if (!found) throw new Error(`no pod ${namespace}/${pod}`);
    found.restartCount = restartCount;
  }

  /** The next `codes.length` write requests fail with these statuses (e.g. 503, 409), in order. */
  failNextWrites(...codes: number[]): void {
    this.#failingWrites.push(...codes);
  }

  replicas(kind: Workload['kind'], namespace: string, name: string): number | undefined {
    return this.workloads.get(`${kind}/${namespace}/${name}`)?.replicas;
  }

  #status(response: ServerResponse, code: number, reason: string, message: string): void {
    sendJson(response, code, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason,
      code,
    });
  }

  #scale(workload: Workload) {
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: workload.name,
        namespace: workload.namespace,
        resourceVersion: String(workload.resourceVersion),
      },
      spec: { replicas: workload.replicas },
      status: { replicas: workload.replicas },
    };
  }

  #pod(pod: DoublePod) {
    return {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: pod.metadata,
      spec: pod.spec,
      status: {
        phase: 'Running',
        containerStatuses: [{ name: 'app', ready: true, restartCount: pod.restartCount }],
      },
    };
  }

  #workload(workload: Workload) {
    const ready = Math.min(workload.readyReplicas ?? workload.replicas, workload.replicas);
    return {
      kind: workload.kind,
      apiVersion: workload.kind === 'Deployment' ? 'apps/v1' : 'argoproj.io/v1alpha1',
      metadata: {
        name: workload.name,
        namespace: workload.namespace,
        resourceVersion: String(workload.resourceVersion),
        generation: 1,
      },
      spec: { replicas: workload.replicas, selector: { matchLabels: { app: workload.name } } },
      status: {
        observedGeneration: 1,
        replicas: workload.replicas,
        updatedReplicas: workload.replicas,
        readyReplicas: ready,
        availableReplicas: ready,
      },
    };
  }

  /** Equality-based label selectors (`a=b,c==d`), the only kind the relay sends. */
  #selector(text: string): Record<string, string> {
    const selector: Record<string, string> = {};
    for (const term of text.split(',').filter(Boolean)) {
      const [key, value] = term.split(/==?/);
      if (key !== undefined && value !== undefined) selector[key.trim()] = value.trim();
    }
    return selector;
  }

  #autoscalerRoute(
    request: RecordedRequest,
    response: ServerResponse,
    namespace: string,
    name: string | undefined,
  ): void {
    const render = (hpa: DoubleAutoscaler) => ({
      kind: 'HorizontalPodAutoscaler',
      apiVersion: 'autoscaling/v2',
      ...structuredClone(hpa),
    });
    if (name === undefined) {
      if (request.method !== 'GET') {
        this.#status(response, 405, 'MethodNotAllowed', `${request.method} is not allowed on a collection`);
        return;
      }
      sendJson(response, 200, {
        kind: 'HorizontalPodAutoscalerList',
        apiVersion: 'autoscaling/v2',
        metadata: { resourceVersion: String(this.#version) },
        items: [...this.autoscalers.values()]
          .filter((hpa) => hpa.metadata.namespace === namespace)
          .map(render),
      });
      return;
    }
    const hpa = this.autoscalers.get(`${namespace}/${name}`);
    if (!hpa) {
      this.#status(response, 404, 'NotFound', `horizontalpodautoscalers.autoscaling "${name}" not found`);
      return;
    }
    if (request.method === 'GET') {
      sendJson(response, 200, render(hpa));
      return;
    }
    if (request.method !== 'PATCH') {
      this.#status(response, 405, 'MethodNotAllowed', `${request.method} is not implemented here`);
      return;
    }
    if (!String(request.headers['content-type']).startsWith('application/merge-patch+json')) {
      this.#status(response, 415, 'UnsupportedMediaType', 'this double applies merge patches only');
      return;
    }
    let patch: Json;
    try {
      patch = JSON.parse(request.body) as Json;
    } catch {
      this.#status(response, 400, 'BadRequest', 'the body is not JSON');
      return;
    }
    const merged = mergePatch(structuredClone(hpa) as unknown as Json, patch) as unknown as DoubleAutoscaler;
    const expected = merged.metadata?.resourceVersion;
    if (expected !== hpa.metadata.resourceVersion) {
      this.#status(
        response,
        409,
        'Conflict',
        `Operation cannot be fulfilled on horizontalpodautoscalers.autoscaling "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
      return;
    }
    const { minReplicas, maxReplicas } = merged.spec ?? {};
    if (!Number.isInteger(minReplicas) || minReplicas < 1) {
      this.#status(
        response,
        422,
        'Invalid',
        'spec.minReplicas: Invalid value: must be greater than or equal to 1',
      );
      return;
    }
    if (!Number.isInteger(maxReplicas) || maxReplicas < minReplicas) {
      this.#status(
        response,
        422,
        'Invalid',
        'spec.maxReplicas: Invalid value: must be greater than or equal to `minReplicas`',
      );
      return;
    }
    merged.metadata.resourceVersion = this.#rv();
    merged.status = hpa.status;
    this.autoscalers.set(`${namespace}/${name}`, merged);
    sendJson(response, 200, render(merged));
  }

  #route(request: RecordedRequest, response: ServerResponse): void {
    if (request.headers.authorization !== `Bearer ${this.token}`) {
      this.#status(response, 401, 'Unauthorized', 'Unauthorized');
      return;
    }
    const { method, path } = request;
    if (method === 'PATCH') {
      const type = String(request.headers['content-type'] ?? '');
      if (!/^application\/(merge-patch|strategic-merge-patch|json-patch)\+json/.test(type)) {
        this.#status(
          response,
          415,
          'UnsupportedMediaType',
          `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
        );
        return;
      }
    }
    const failure = method === 'GET' ? undefined : this.#failingWrites.shift();
    if (failure !== undefined) {
      this.#status(
        response,
        failure,
        failure === 409 ? 'Conflict' : 'ServiceUnavailable',
        `injected ${failure}`,
      );
      return;
    }
    let match = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(path);
    if (match && method === 'GET') {
      const pod = this.pods.get(`${match[1]}/${match[2]}`);
      if (!pod) this.#status(response, 404, 'NotFound', `pods "${match[2]}" not found`);
      else sendJson(response, 200, this.#pod(pod));
      return;
    }
    match = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(path);
    if (match && method === 'GET') {
      const selector = this.#selector(request.query.get('labelSelector') ?? '');
      const items = [...this.pods.values()]
        .filter((pod) => pod.metadata.namespace === match?.[1])
        .filter((pod) =>
          Object.entries(selector).every(([key, value]) => pod.metadata.labels?.[key] === value),
        )
        .map((pod) => this.#pod(pod));
      sendJson(response, 200, {
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(this.#version) },
        items,
      });
      return;
    }
    match =
      /^\/apis\/(apps\/v1|argoproj\.io\/v1alpha1)\/namespaces\/([^/]+)\/(deployments|rollouts)\/([^/]+)$/.exec(
        path,
      );
    if (match && method === 'GET') {
      const [, group, namespace, resource, name] = match;
      const kind = resource === 'deployments' ? 'Deployment' : 'Rollout';
      const workload = this.workloads.get(`${kind}/${namespace}/${name}`);
      if (!workload || (group === 'apps/v1') !== (kind === 'Deployment'))
        this.#status(response, 404, 'NotFound', `${resource} "${name}" not found`);
      else sendJson(response, 200, this.#workload(workload));
      return;
    }
    match = /^\/apis\/autoscaling\/v2\/namespaces\/([^/]+)\/horizontalpodautoscalers(?:\/([^/]+))?$/.exec(
      path,
    );
    if (match) {
      this.#autoscalerRoute(request, response, match[1] ?? '', match[2]);
      return;
    }
    match = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/replicasets\/([^/]+)$/.exec(path);
    if (match && method === 'GET') {
      const rs = this.replicaSets.get(`${match[1]}/${match[2]}`);
      if (!rs) this.#status(response, 404, 'NotFound', `replicasets.apps "${match[2]}" not found`);
      else sendJson(response, 200, { kind: 'ReplicaSet', apiVersion: 'apps/v1', ...rs });
      return;
    }
    match =
      /^\/apis\/(apps\/v1|argoproj\.io\/v1alpha1)\/namespaces\/([^/]+)\/(deployments|rollouts)\/([^/]+)\/scale$/.exec(
        path,
      );
    if (match) {
      const [, group, namespace, resource, name] = match;
      const kind = resource === 'deployments' ? 'Deployment' : 'Rollout';
      const workload = this.workloads.get(`${kind}/${namespace}/${name}`);
      if (!workload || (group === 'apps/v1') !== (kind === 'Deployment')) {
        this.#status(response, 404, 'NotFound', `${resource} "${name}" not found`);
        return;
      }
      if (method === 'GET') {
        sendJson(response, 200, this.#scale(workload));
        return;
      }
      if (method === 'PATCH' || method === 'PUT') {
        const body = JSON.parse(request.body) as {
          metadata?: { resourceVersion?: string };
          spec?: { replicas?: number };
        };
        const expected = body.metadata?.resourceVersion;
        if (expected !== undefined && expected !== String(workload.resourceVersion)) {
          this.#status(
            response,
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified`,
          );
          return;
        }
        if (typeof body.spec?.replicas !== 'number' || body.spec.replicas < 0) {
          this.#status(response, 422, 'Invalid', 'spec.replicas: Invalid value');
          return;
        }
        workload.replicas = body.spec.replicas;
        workload.resourceVersion = this.#version++;
        sendJson(response, 200, this.#scale(workload));
        return;
      }
    }
    if (path === '/api/v1/nodes' && method === 'GET') {
      sendJson(response, 200, {
        kind: 'NodeList',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(this.#version) },
        items: [...this.nodes.values()].map((node) => ({ kind: 'Node', apiVersion: 'v1', ...node })),
      });
      return;
    }
    match = /^\/api\/v1\/nodes\/([^/]+)$/.exec(path);
    if (match) {
      const node = this.nodes.get(match[1] ?? '');
      if (!node) {
        this.#status(response, 404, 'NotFound', `nodes "${match[1]}" not found`);
        return;
      }
      if (method === 'PATCH') {
        const body = JSON.parse(request.body) as { spec?: { unschedulable?: boolean } };
        if (body.spec?.unschedulable !== undefined) node.spec.unschedulable = body.spec.unschedulable;
        node.metadata.resourceVersion = this.#rv();
      }
      if (method === 'GET' || method === 'PATCH') {
        sendJson(response, 200, { kind: 'Node', apiVersion: 'v1', ...node });
        return;
      }
    }
    this.#status(
      response,
      404,
      'NotFound',
      `the server could not find the requested resource (${method} ${path})`,
    );
  }
}

/** A service-account token file holding `token` for the suite it is called in: written before, removed after. */
export function suiteTokenFile(token: string): { readonly path: string } {
  let dir = '';
  const file = { path: '' };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-token-'));
    file.path = join(dir, 'token');
    await writeFile(file.path, token);
  });
  after(() => rm(dir, { recursive: true, force: true }));
  return file;
}
