import type { ServerResponse } from 'node:http';
import { HttpDouble, type RecordedRequest, sendJson } from './http-double.ts';

interface Meta {
  name: string;
  namespace?: string;
  resourceVersion: string;
  ownerReferences?: { apiVersion: string; kind: string; name: string; controller: boolean }[];
}

interface Workload {
  kind: 'Deployment' | 'Rollout';
  namespace: string;
  name: string;
  replicas: number;
  resourceVersion: number;
}

/**
 * The parts of the Kubernetes API the relay uses, as documented: GET pods and replicasets, GET/PATCH/PUT the
 * `scale` subresource of apps/v1 Deployments and argoproj.io/v1alpha1 Rollouts (autoscaling/v1 Scale), GET/list
 * and PATCH nodes. Errors are `Status` objects; PATCH needs a patch content type (415 otherwise); a stale
 * resourceVersion is a 409 Conflict; a missing or wrong bearer token is a 401.
 */
export class KubernetesApiDouble {
  readonly http: HttpDouble;
  readonly token: string;
  readonly pods = new Map<string, { metadata: Meta; spec: { nodeName: string } }>();
  readonly replicaSets = new Map<string, { metadata: Meta }>();
  readonly workloads = new Map<string, Workload>();
  readonly nodes = new Map<string, { metadata: Meta; spec: { unschedulable?: boolean } }>();
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
      });
    }
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
    let match = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(path);
    if (match && method === 'GET') {
      const pod = this.pods.get(`${match[1]}/${match[2]}`);
      if (!pod) this.#status(response, 404, 'NotFound', `pods "${match[2]}" not found`);
      else sendJson(response, 200, { kind: 'Pod', apiVersion: 'v1', ...pod });
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
