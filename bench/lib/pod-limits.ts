import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { parseAllDocuments } from 'yaml';

/** What a user-service pod gets: its CPU and memory limits and the NODE_OPTIONS its container starts with. */
export interface PodLimits {
  /** CPUs as a fraction (200m = 0.2). */
  cpus: number;
  memoryBytes: number;
  nodeOptions: string[];
  /** Where each figure was read, for the report. */
  source: string;
}

const DEPLOYMENT = 'deploy/k8s/base/deployment.yaml';
const DOCKERFILE = 'deploy/docker/Dockerfile';

/** Kubernetes CPU quantity: `200m`, `0.5`, `2`. */
export function parseCpuQuantity(value: string | number): number {
  const text = String(value).trim();
  const match = /^(\d+(?:\.\d+)?)(m?)$/.exec(text);
  if (!match) throw new Error(`not a CPU quantity: ${text}`);
  const n = Number(match[1]);
  return match[2] === 'm' ? n / 1000 : n;
}

const MEMORY_UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
};

/** Kubernetes memory quantity: `128Mi`, `1G`, `134217728`. */
export function parseMemoryQuantity(value: string | number): number {
  const text = String(value).trim();
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(text);
  if (!match) throw new Error(`not a memory quantity: ${text}`);
  return Math.round(Number(match[1]) * MEMORY_UNITS[match[2] ?? '']!);
}

interface ContainerSpec {
  name?: string;
  env?: { name: string; value?: string }[];
  resources?: { limits?: { cpu?: string | number; memory?: string | number } };
}

/** The user-service container of the Deployment in a (multi-document) manifest. */
export function deploymentContainer(manifest: string, containerName = 'user-service'): ContainerSpec {
  for (const document of parseAllDocuments(manifest)) {
    const object = document.toJS() as {
      kind?: string;
      spec?: { template?: { spec?: { containers?: ContainerSpec[] } } };
    } | null;
    if (object?.kind !== 'Deployment') continue;
    const containers = object.spec?.template?.spec?.containers ?? [];
    const container = containers.find((c) => c.name === containerName) ?? containers[0];
    if (container) return container;
  }
  throw new Error(`no Deployment container ${containerName} in the manifest`);
}

/**
 * The value of an `ENV` key in a Dockerfile (`ENV A=1 \` continuation lines, quoted values); undefined when the
 * Dockerfile does not set it.
 */
export function dockerfileEnv(dockerfile: string, key: string): string | undefined {
  const logical = dockerfile.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  let found: string | undefined;
  for (const line of logical) {
    const instruction = /^\s*ENV\s+(.*)$/i.exec(line);
    if (!instruction) continue;
    for (const pair of instruction[1]!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
      if (pair[1] !== key) continue;
      const raw = pair[2]!;
      found = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    }
  }
  return found;
}

const BASE_CONFIG_MAP = 'deploy/k8s/base/user-service.env';

/**
 * A key as the user-service container gets it, and where from: the Deployment's own env wins over the base
 * ConfigMap (its envFrom), which wins over the image's ENV; undefined when none sets it.
 */
export function shippedSetting(root: string, key: string): { value: string; source: string } | undefined {
  const container = deploymentContainer(readFileSync(join(root, DEPLOYMENT), 'utf8'));
  const layers: [string, () => string | undefined][] = [
    [`${DEPLOYMENT} env`, () => container.env?.find((e) => e.name === key)?.value],
    [BASE_CONFIG_MAP, () => parseEnv(readFileSync(join(root, BASE_CONFIG_MAP), 'utf8'))[key]],
    [`${DOCKERFILE} ENV`, () => dockerfileEnv(readFileSync(join(root, DOCKERFILE), 'utf8'), key)],
  ];
  for (const [source, read] of layers) {
    const value = read();
    if (value !== undefined) return { value, source };
  }
  return undefined;
}

/** Reads the limits from the base manifests and NODE_OPTIONS as the pod gets it (see `shippedSetting`). */
export async function readPodLimits(root: string): Promise<PodLimits> {
  const container = deploymentContainer(await readFile(join(root, DEPLOYMENT), 'utf8'));
  const limits = container.resources?.limits;
  if (limits?.cpu === undefined || limits.memory === undefined)
    throw new Error(`${DEPLOYMENT} sets no resources.limits cpu and memory`);
  const nodeOptions = shippedSetting(root, 'NODE_OPTIONS');
  return {
    cpus: parseCpuQuantity(limits.cpu),
    memoryBytes: parseMemoryQuantity(limits.memory),
    nodeOptions: (nodeOptions?.value ?? '').split(/\s+/).filter(Boolean),
    source: `limits cpu ${limits.cpu}, memory ${limits.memory} from ${DEPLOYMENT}; NODE_OPTIONS from ${nodeOptions?.source ?? 'none'}`,
  };
}
