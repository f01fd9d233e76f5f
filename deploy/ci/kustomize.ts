import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse, parseAllDocuments, stringify } from 'yaml';

const execFileAsync = promisify(execFile);

/** deploy/k8s: base, overlays/<env>, components/*. */
export const K8S_DIR = fileURLToPath(new URL('../k8s/', import.meta.url));
export const OVERLAYS_DIR = join(K8S_DIR, 'overlays');
/** The image every overlay renames and tags; the base's containers say `image: user-service`. */
export const IMAGE_PLACEHOLDER = 'user-service';
/** Environments whose image must be a pinned release tag. */
export const PINNED_ENVIRONMENTS = new Set(['staging', 'prod']);

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are free-form until validated against their model.
  [field: string]: any;
}

export async function listOverlays(): Promise<string[]> {
  const entries = await readdir(OVERLAYS_DIR, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/** `kubectl kustomize DIR`: kustomize v5 is built into kubectl, no separate binary needed. */
export async function kustomizeBuild(
  directory: string,
  kubectl = process.env.KUBECTL ?? 'kubectl',
): Promise<string> {
  try {
    const { stdout } = await execFileAsync(kubectl, ['kustomize', directory], {
      maxBuffer: 32 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string };
    throw new Error(`kubectl kustomize ${directory} failed: ${(stderr || message).trim()}`);
  }
}

export function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) throw new Error(`invalid YAML: ${document.errors[0]!.message}`);
    const value = document.toJS() as K8sObject | null;
    if (value) objects.push(value);
  }
  return objects;
}

export function stringifyManifests(objects: K8sObject[]): string {
  return objects.map((object) => stringify(object, { lineWidth: 0 })).join('---\n');
}

interface OverlayKustomization {
  namespace?: string;
  configMapGenerator?: { name: string; namespace?: string }[];
  images?: { name: string; newName?: string; newTag?: string }[];
}

export async function readOverlay(environment: string): Promise<OverlayKustomization> {
  return parse(
    await readFile(join(OVERLAYS_DIR, environment, 'kustomization.yaml'), 'utf8'),
  ) as OverlayKustomization;
}

export interface ReleaseOptions {
  environment: string;
  /** Image tag, also the service's APP_VERSION (the `version` label of its logs and metrics). */
  version: string;
  /** Registry and repository of the image; the overlay's own when absent. */
  imageRepository?: string;
  /** Commit the release was built from; a pod template annotation, so even an unchanged tag rolls the pods. */
  revision?: string;
  kubectl?: string;
}

/** The alert relay's kustomization (deploy/k8s/alert-relay), one per cluster in the monitoring namespace. */
export const RELAY_DIR = join(K8S_DIR, 'alert-relay');
/** Images other than users live under the users repository: <IMAGE_REPOSITORY>/<service> (deploy/ci/images.sh). */
export const relayRepositoryOf = (usersRepository: string) => `${usersRepository}/alert-relay`;

interface ReleaseLayer {
  /** The kustomization the release builds on, relative to deploy/k8s/release. */
  resource: string;
  namespace?: string;
  /** The image name as the layer below renders it, and the repository the release should name. */
  image: { name: string; repository: string };
  configMap: string;
  configMapNamespace?: string;
  deployment: string;
}

/**
 * Renders an overlay as released: a temporary kustomization layered on a copy of deploy/k8s sets the image tag,
 * APP_VERSION in the generated ConfigMap (so its hash, and so the pods, change with the version) and the revision
 * annotation. The committed overlays stay untouched.
 */
export async function renderRelease(options: ReleaseOptions): Promise<K8sObject[]> {
  const overlay = await readOverlay(options.environment);
  const image = overlay.images?.find((entry) => entry.name === IMAGE_PLACEHOLDER);
  const repository = image?.newName ?? IMAGE_PLACEHOLDER;
  return renderLayer(
    {
      resource: `../overlays/${options.environment}`,
      ...(overlay.namespace ? { namespace: overlay.namespace } : {}),
      image: { name: repository, repository: options.imageRepository ?? repository },
      configMap: 'user-service-config',
      deployment: 'user-service',
    },
    options,
  );
}

/**
 * The alert relay as released with the same tag as the users service, from the same registry: its image is
 * <users repository>/alert-relay (the users repository being --image-repository or the overlay's).
 */
export async function renderRelayRelease(options: ReleaseOptions): Promise<K8sObject[]> {
  const relay = parse(await readFile(join(RELAY_DIR, 'kustomization.yaml'), 'utf8')) as OverlayKustomization;
  const committed = relay.images?.find((entry) => entry.name === 'alert-relay');
  const configMapNamespace =
    relay.configMapGenerator?.find((entry) => entry.name === 'alert-relay-config')?.namespace ??
    relay.namespace;
  const overlay = await readOverlay(options.environment);
  const usersRepository =
    options.imageRepository ??
    overlay.images?.find((entry) => entry.name === IMAGE_PLACEHOLDER)?.newName ??
    IMAGE_PLACEHOLDER;
  return renderLayer(
    {
      resource: '../alert-relay',
      image: { name: committed?.newName ?? 'alert-relay', repository: relayRepositoryOf(usersRepository) },
      configMap: 'alert-relay-config',
      // The relay's objects name their namespaces themselves (its Roles live in the namespaces they grant), so
      // the release merges into its ConfigMap where the relay generates it rather than setting one for all.
      ...(configMapNamespace ? { configMapNamespace } : {}),
      deployment: 'alert-relay',
    },
    options,
  );
}

async function renderLayer(layer: ReleaseLayer, options: ReleaseOptions): Promise<K8sObject[]> {
  const workDirectory = await mkdtemp(join(tmpdir(), 'user-service-release-'));
  try {
    const copy = join(workDirectory, 'k8s');
    await cp(K8S_DIR, copy, { recursive: true });
    const release = join(copy, 'release');
    await mkdir(release);
    const kustomization = {
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      ...(layer.namespace ? { namespace: layer.namespace } : {}),
      resources: [layer.resource],
      images: [{ name: layer.image.name, newName: layer.image.repository, newTag: options.version }],
      configMapGenerator: [
        {
          name: layer.configMap,
          ...(layer.configMapNamespace ? { namespace: layer.configMapNamespace } : {}),
          behavior: 'merge',
          literals: [`APP_VERSION=${options.version}`],
        },
      ],
      ...(options.revision
        ? {
            patches: [
              {
                target: { kind: 'Deployment', name: layer.deployment },
                patch: stringify([
                  {
                    op: 'add',
                    path: '/spec/template/metadata/annotations/app.kubernetes.io~1revision',
                    value: options.revision,
                  },
                ]),
              },
            ],
          }
        : {}),
    };
    await writeFile(join(release, 'kustomization.yaml'), stringify(kustomization));
    return parseManifests(await kustomizeBuild(release, options.kubectl));
  } finally {
    await rm(workDirectory, { recursive: true, force: true });
  }
}

export interface K8sContainer {
  name: string;
  image: string;
  // biome-ignore lint/suspicious/noExplicitAny: free-form until validated.
  [field: string]: any;
}

/** Every container of every pod template in a render, with the object that holds it. */
export function containersOf(
  objects: K8sObject[],
): { owner: K8sObject; container: K8sContainer; init: boolean }[] {
  const result: { owner: K8sObject; container: K8sContainer; init: boolean }[] = [];
  for (const owner of objects) {
    const spec = podSpecOf(owner);
    if (!spec) continue;
    for (const container of spec.containers ?? []) result.push({ owner, container, init: false });
    for (const container of spec.initContainers ?? []) result.push({ owner, container, init: true });
  }
  return result;
}

// biome-ignore lint/suspicious/noExplicitAny: pod specs are free-form here; the models validate them.
export function podSpecOf(object: K8sObject): any {
  if (object.kind === 'Pod') return object.spec;
  if (object.kind === 'CronJob') return object.spec?.jobTemplate?.spec?.template?.spec;
  return object.spec?.template?.spec;
}

/** The tag of an image reference, `latest` when it names none (what the runtime would pull). */
export function imageTag(image: string): string {
  const withoutDigest = image.split('@')[0]!;
  const lastSegment = withoutDigest.slice(withoutDigest.lastIndexOf('/') + 1);
  const colon = lastSegment.indexOf(':');
  if (image.includes('@')) return colon === -1 ? '' : lastSegment.slice(colon + 1);
  return colon === -1 ? 'latest' : lastSegment.slice(colon + 1);
}

/** https://<host><prefix> of a render's Ingress (http without TLS), the prefix being the literal start of its path. */
export function publicUrlOf(objects: K8sObject[]): string {
  const ingress = objects.find((object) => object.kind === 'Ingress');
  if (!ingress) throw new Error('no Ingress in the manifests; pass --base-url');
  const rule = ingress.spec.rules[0];
  const prefix = /^[^()[\]*?+$|\\]*/.exec(rule.http.paths[0].path)![0].replace(/\/$/, '');
  const tls = (ingress.spec.tls ?? []).some((entry: { hosts?: string[] }) =>
    entry.hosts?.includes(rule.host),
  );
  return `${tls ? 'https' : 'http'}://${rule.host}${prefix}`;
}
