import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { findBinary } from '../../scripts/lib/find-binary.ts';

export { findBinary };

const DEBIAN = (pkg: string) => `install Debian \`${pkg}\` (scripts/ci/install-system-packages.sh)`;

function answers(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

/** Everything a suite may need beyond Node, how to tell it is there, and how to get it. */
const REQUIREMENTS = {
  bash: {
    available: () =>
      ['bash', 'dirname', 'mktemp', 'rm', 'cat'].every((tool) => findBinary(tool) !== undefined),
    howTo: 'bash and coreutils (dirname, mktemp, rm, cat) on PATH to run the shell scripts',
  },
  postgres: {
    available: () => process.env.TEST_DATABASE_URL !== undefined,
    howTo: 'a PostgreSQL server: run `eval "$(scripts/servers/postgres.sh start)"` to set TEST_DATABASE_URL',
  },
  'postgres-binaries': {
    available: () => existsSync('/usr/lib/postgresql'),
    howTo: `PostgreSQL binaries to start a server of its own: ${DEBIAN('postgresql')}`,
  },
  docker: {
    available: () => answers('docker', ['info']),
    howTo: 'a Docker engine: run `bash scripts/servers/docker.sh start`',
  },
  'docker-compose': {
    available: () => composeCommand() !== undefined,
    howTo: '`docker compose` or docker-compose: install the docker-compose package',
  },
  kubectl: {
    available: () => kubectlBinary() !== undefined,
    howTo: 'kubectl (or KUBECTL): install kubectl 1.27+; it carries kustomize v5',
  },
  promtool: {
    available: () => findBinary('promtool') !== undefined,
    howTo: `promtool: ${DEBIAN('prometheus')}`,
  },
  prometheus: {
    available: () => findBinary('prometheus') !== undefined,
    howTo: `prometheus: ${DEBIAN('prometheus')}`,
  },
  amtool: {
    available: () => findBinary('amtool') !== undefined,
    howTo: `amtool: ${DEBIAN('prometheus-alertmanager')}`,
  },
  alertmanager: {
    available: () => findBinary('prometheus-alertmanager') !== undefined,
    howTo: `prometheus-alertmanager: ${DEBIAN('prometheus-alertmanager')}`,
  },
  etcd: { available: () => findBinary('etcd') !== undefined, howTo: `etcd: ${DEBIAN('etcd-server')}` },
} satisfies Record<string, { available: () => boolean; howTo: string }>;

export type Requirement = keyof typeof REQUIREMENTS;

const checked = new Map<Requirement, boolean>();

/**
 * The one declaration of what a suite needs beyond Node: `describe('...', { skip: needs('promtool') }, ...)`.
 * Returns false when everything is there, else the skip reason (collected into the run's skip summary). With
 * CI=true a missing requirement is a failure, never a skip.
 */
export function needs(...requirements: Requirement[]): string | false {
  const missing = requirements.filter((requirement) => {
    if (!checked.has(requirement)) checked.set(requirement, REQUIREMENTS[requirement].available());
    return !checked.get(requirement);
  });
  if (missing.length === 0) return false;
  const reason = `needs ${missing.map((requirement) => REQUIREMENTS[requirement].howTo).join('; and ')}`;
  if (process.env.CI === 'true') throw new Error(`CI=true, so this suite must run, but it ${reason}`);
  return reason;
}

/** kubectl as the suites run it: KUBECTL when set, else the one on PATH. */
export function kubectlBinary(): string | undefined {
  return process.env.KUBECTL ?? findBinary('kubectl');
}

/** `docker compose` (v2 plugin), else Debian's docker-compose 1.29; both validate the Compose Specification. */
export function composeCommand(): [string, ...string[]] | undefined {
  if (answers('docker', ['compose', 'version'])) return ['docker', 'compose'];
  return findBinary('docker-compose') ? ['docker-compose'] : undefined;
}

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;
