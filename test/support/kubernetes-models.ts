import type { K8sObject } from '../../deploy/ci/kustomize.ts';

/** The model package that carries the official schema of an API group (the core group is `kubernetes-models`). */
function modelModule(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === 'argoproj.io') return `@kubernetes-models/argo-rollouts/${apiVersion}/${kind}`;
  if (group!.endsWith('.istio.io')) return `@kubernetes-models/istio/${apiVersion}/${kind}`;
  if (group === 'monitoring.coreos.com')
    return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/**
 * Validates one object against the schema of its apiVersion and kind. An object whose kind has no model fails
 * too: every object we ship must be checked by something.
 */
export async function validateAgainstModel(object: K8sObject): Promise<void> {
  const specifier = modelModule(object.apiVersion, object.kind);
  let Model: ModelClass | undefined;
  try {
    Model = ((await import(specifier)) as Record<string, ModelClass>)[object.kind];
  } catch {}
  if (!Model)
    throw new Error(`no schema model for ${object.apiVersion} ${object.kind} (looked in ${specifier})`);
  try {
    new Model(object).validate();
  } catch (error) {
    throw new Error(`${object.kind}/${object.metadata?.name}: ${(error as Error).message}`);
  }
}
