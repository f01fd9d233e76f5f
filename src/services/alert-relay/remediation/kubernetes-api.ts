import { readFile } from 'node:fs/promises';
import { HttpCallError, requestJson } from '../../../platform/http/json-http.ts';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  controller?: boolean;
}

interface ObjectMeta {
  name: string;
  namespace?: string;
  resourceVersion?: string;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface Pod {
  metadata: ObjectMeta;
  spec?: { nodeName?: string };
  status?: { containerStatuses?: { name: string; restartCount: number; ready?: boolean }[] };
}

/** The spec and status fields of an apps/v1 Deployment or an Argo Rollout that say whether it is healthy. */
export interface WorkloadObject {
  metadata: ObjectMeta & { generation?: number };
  spec: { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    readyReplicas?: number;
    updatedReplicas?: number;
  };
}

/** autoscaling/v2 HorizontalPodAutoscaler, the fields remediation reads. */
export interface HorizontalPodAutoscaler {
  metadata: ObjectMeta;
  spec: {
    scaleTargetRef: { apiVersion?: string; kind: string; name: string };
    minReplicas?: number;
    maxReplicas: number;
  };
  status?: { currentReplicas?: number; desiredReplicas?: number };
}

export interface ReplicaSet {
  metadata: ObjectMeta;
}

/** autoscaling/v1 Scale, the scale subresource of Deployments and Argo Rollouts. */
export interface Scale {
  metadata: ObjectMeta;
  spec: { replicas?: number };
  status?: { replicas?: number };
}

export interface Node {
  metadata: ObjectMeta;
  spec?: { unschedulable?: boolean };
}

/** A workload with a scale subresource. */
export interface WorkloadRef {
  kind: 'Deployment' | 'Rollout';
  namespace: string;
  name: string;
}

export class KubernetesApiError extends HttpCallError {
  override readonly name = 'KubernetesApiError';
}

export interface KubernetesApiOptions {
  /** https://kubernetes.default.svc or, in tests, the double's URL. */
  baseUrl: string;
  /** Path of the service-account token; read again after `tokenTtlMs` because projected tokens rotate. */
  tokenPath?: string;
  timeoutMs: number;
  tokenTtlMs?: number;
}

const enc = encodeURIComponent;

function workloadPath(workload: WorkloadRef): string {
  const group = workload.kind === 'Deployment' ? 'apis/apps/v1' : 'apis/argoproj.io/v1alpha1';
  const resource = workload.kind === 'Deployment' ? 'deployments' : 'rollouts';
  return `/${group}/namespaces/${enc(workload.namespace)}/${resource}/${enc(workload.name)}`;
}

export function scalePath(workload: WorkloadRef): string {
  return `${workloadPath(workload)}/scale`;
}

const hpaPath = (namespace: string) =>
  `/apis/autoscaling/v2/namespaces/${enc(namespace)}/horizontalpodautoscalers`;

/**
 * The few Kubernetes API calls remediation needs, over plain HTTPS with the pod's service-account token (the
 * cluster CA is trusted through NODE_EXTRA_CA_CERTS). Writes are JSON merge patches (RFC 7386).
 */
export class KubernetesApi {
  readonly #options: KubernetesApiOptions;
  #token: { value: string | undefined; readAt: number } | undefined;

  constructor(options: KubernetesApiOptions) {
    this.#options = options;
  }

  getPod(namespace: string, name: string): Promise<Pod> {
    return this.#request('GET', `/api/v1/namespaces/${enc(namespace)}/pods/${enc(name)}`);
  }

  getReplicaSet(namespace: string, name: string): Promise<ReplicaSet> {
    return this.#request('GET', `/apis/apps/v1/namespaces/${enc(namespace)}/replicasets/${enc(name)}`);
  }

  getScale(workload: WorkloadRef): Promise<Scale> {
    return this.#request('GET', scalePath(workload));
  }

  /** Sets replicas, guarded by the resourceVersion read before: a concurrent change makes this a 409, not a lost update. */
  patchScale(workload: WorkloadRef, replicas: number, resourceVersion?: string): Promise<Scale> {
    const patch: Record<string, unknown> = { spec: { replicas } };
    if (resourceVersion) patch.metadata = { resourceVersion };
    return this.#request('PATCH', scalePath(workload), patch);
  }

  getWorkload(workload: WorkloadRef): Promise<WorkloadObject> {
    return this.#request('GET', workloadPath(workload));
  }

  /** Pods matching an equality label selector (`app=web,tier=api`). */
  async listPods(namespace: string, labelSelector: string): Promise<Pod[]> {
    const query = labelSelector ? `?labelSelector=${enc(labelSelector)}` : '';
    const list = await this.#request<{ items: Pod[] }>(
      'GET',
      `/api/v1/namespaces/${enc(namespace)}/pods${query}`,
    );
    return list.items ?? [];
  }

  async listHorizontalPodAutoscalers(namespace: string): Promise<HorizontalPodAutoscaler[]> {
    const list = await this.#request<{ items: HorizontalPodAutoscaler[] }>('GET', hpaPath(namespace));
    return list.items ?? [];
  }

  /** A merge patch; put `metadata.resourceVersion` in it to make a concurrent change a 409. */
  patchHorizontalPodAutoscaler(
    namespace: string,
    name: string,
    patch: Record<string, unknown>,
  ): Promise<HorizontalPodAutoscaler> {
    return this.#request('PATCH', `${hpaPath(namespace)}/${enc(name)}`, patch);
  }

  async listNodes(): Promise<Node[]> {
    const list = await this.#request<{ items: Node[] }>('GET', '/api/v1/nodes');
    return list.items ?? [];
  }

  cordonNode(name: string): Promise<Node> {
    return this.#request('PATCH', `/api/v1/nodes/${enc(name)}`, { spec: { unschedulable: true } });
  }

  async #bearer(): Promise<string | undefined> {
    const { tokenPath } = this.#options;
    if (!tokenPath) return undefined;
    const ttl = this.#options.tokenTtlMs ?? 60_000;
    if (!this.#token || Date.now() - this.#token.readAt > ttl) {
      const value = await readFile(tokenPath, 'utf8').then(
        (text) => text.trim(),
        () => undefined,
      );
      this.#token = { value, readAt: Date.now() };
    }
    return this.#token.value;
  }

  async #request<T>(method: 'GET' | 'PATCH', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    const token = await this.#bearer();
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/merge-patch+json';
    const answer = await requestJson<T>(`${this.#options.baseUrl.replace(/\/$/, '')}${path}`, {
      service: 'Kubernetes API',
      method,
      headers,
      json: body,
      timeoutMs: this.#options.timeoutMs,
      errorClass: KubernetesApiError,
    });
    return answer.body;
  }
}
