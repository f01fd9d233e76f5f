import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { type K8sObject, kustomizeBuild, parseManifests } from '../../deploy/ci/kustomize.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEPLOY_DIR = join(REPO_ROOT, 'deploy');

/**
 * Every kustomization under deploy/ that builds on its own (components are built through the overlays that use
 * them), found by walking the tree, so manifests added later by anyone are checked too.
 */
export function findKustomizations(directory = DEPLOY_DIR): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(directory, entry.name);
    if (entry.isDirectory()) found.push(...findKustomizations(path));
    else if (/^kustomization\.ya?ml$/.test(entry.name)) {
      const kustomization = parse(readFileSync(path, 'utf8')) as { kind?: string } | null;
      if (kustomization?.kind !== 'Component') found.push(directory);
    }
  }
  return found.sort();
}

export function repoRelative(path: string): string {
  return relative(REPO_ROOT, path);
}

const renders = new Map<string, Promise<K8sObject[]>>();

/** Renders a kustomization once per test process. */
export function render(directory: string): Promise<K8sObject[]> {
  let rendered = renders.get(directory);
  if (!rendered) {
    rendered = kustomizeBuild(directory).then(parseManifests);
    renders.set(directory, rendered);
  }
  return rendered;
}

export function renderOverlay(environment: string): Promise<K8sObject[]> {
  return render(join(DEPLOY_DIR, 'k8s', 'overlays', environment));
}

export function findObject(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.find(
    (object) => object.kind === kind && (name === undefined || object.metadata.name === name),
  );
  if (!found) throw new Error(`no ${kind}${name ? `/${name}` : ''} in the rendered manifests`);
  return found;
}

export function podLabelsOf(object: K8sObject): Record<string, string> {
  if (object.kind === 'Pod') return object.metadata.labels ?? {};
  if (object.kind === 'CronJob') return object.spec?.jobTemplate?.spec?.template?.metadata?.labels ?? {};
  return object.spec?.template?.metadata?.labels ?? {};
}

export function matches(
  selector: Record<string, string> | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}
