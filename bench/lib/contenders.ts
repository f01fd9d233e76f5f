import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { LimitedGroup } from './cgroup.ts';
import { copyOfCompileCache } from './compile-cache.ts';
import type { BenchEnvironment } from './environment.ts';
import type { BenchDatabase } from './postgres.ts';
import { freePort, type Started, startServer } from './processes.ts';
import {
  BASELINES,
  type ContenderName,
  contenderLabel,
  ECOSYSTEM_CONTENDER,
  IMAGE_FLAGS_CONTENDER,
  PG_RAW_CONTENDER,
  SCENARIOS,
  type ScenarioName,
  type Storage,
  TRACING_ALL_CONTENDER,
  TRACING_OFF_CONTENDER,
} from './results.ts';
import { type ServiceDefaults, shippedServiceEnv } from './service-defaults.ts';

const exec = promisify(execFile);

/** Everything a contender needs to start; built once by the driver. */
export interface ContenderContext {
  root: string;
  work: string;
  node: string;
  environment: BenchEnvironment;
  otlpEndpoint: string;
  defaults: ServiceDefaults;
  /** Ratio of `user-service` (the service's default unless --sample-ratio). */
  sampleRatio: number;
  goBinary?: string;
  /** One database per PostgreSQL contender, so their rows never collide. */
  databases?: { service: BenchDatabase; raw: BenchDatabase };
  /**
   * Compile caches warmed as the image's build warms its own (bench/lib/compile-cache.ts), by the Node flags they
   * were made with (V8 uses a cache only under the same flags): the service bundle starts with a copy of the one
   * for its flags, as every pod of the image starts from the image's.
   */
  compileCaches?: ReadonlyMap<string, string>;
}

/** Runs the server inside a pod's limits, with the pod's NODE_OPTIONS. */
export interface PodPlacement {
  group: LimitedGroup;
  nodeOptions: readonly string[];
}

export interface Contender {
  contender: ContenderName;
  storage: Storage;
  label: string;
  scenarios: readonly ScenarioName[];
  /** A fresh, empty store for a round: a new PGlite directory, a recreated (and, for pg-raw, migrated) database. */
  freshStorage: (round: number) => Promise<string>;
  start: (databaseUrl: string, pod?: PodPlacement) => Promise<Started>;
}

function baseEnv(port: number): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    HOST: '127.0.0.1',
    PORT: String(port),
  };
}

async function launch(
  context: ContenderContext,
  command: string,
  args: readonly string[],
  env: Record<string, string>,
  port: number,
  pod: PodPlacement | undefined,
): Promise<Started> {
  const podEnv: Record<string, string> =
    pod && pod.nodeOptions.length > 0 ? { NODE_OPTIONS: pod.nodeOptions.join(' ') } : {};
  return startServer({
    command,
    args,
    env: { ...env, ...podEnv },
    cwd: context.work,
    port,
    ...(context.environment.serverCpu === undefined ? {} : { cpu: context.environment.serverCpu }),
    ...(pod ? { wrap: pod.group.wrap } : {}),
  });
}

function contender(
  name: ContenderName,
  storage: Storage,
  freshStorage: Contender['freshStorage'],
  start: Contender['start'],
  scenarios: readonly ScenarioName[] = SCENARIOS,
): Contender {
  return { contender: name, storage, label: contenderLabel(name, storage), scenarios, freshStorage, start };
}

/** The production bundle with info logs, metrics, and tracing to the sink at the given ratio (null: tracing off). */
function userService(
  context: ContenderContext,
  name: ContenderName,
  storage: Storage,
  freshStorage: Contender['freshStorage'],
  sampleRatio: number | null,
  nodeFlags: readonly string[],
): Contender {
  return contender(name, storage, freshStorage, async (databaseUrl, pod) => {
    const port = await freePort();
    const env = {
      ...baseEnv(port),
      ...shippedServiceEnv(context.defaults),
      APP_VERSION: 'bench',
      DATABASE_URL: databaseUrl,
      ...(sampleRatio === null
        ? {}
        : {
            OTEL_EXPORTER_OTLP_ENDPOINT: context.otlpEndpoint,
            OTEL_TRACES_SAMPLER_ARG: String(sampleRatio),
          }),
    };
    const flags = pod ? [] : nodeFlags;
    const warmed = context.compileCaches?.get((pod ? pod.nodeOptions : nodeFlags).join(' '));
    const cache: Record<string, string> = warmed
      ? { NODE_COMPILE_CACHE: await copyOfCompileCache(warmed, context.work) }
      : {};
    return launch(
      context,
      context.node,
      [...flags, join(context.root, 'dist/users/main.mjs')],
      { ...env, ...cache },
      port,
      pod,
    );
  });
}

function freshPglite(context: ContenderContext): Contender['freshStorage'] {
  return async (round) => `pglite://${await mkdtemp(join(context.work, `pglite-${round}-`))}`;
}

/** Applies the service's migrations to a database without starting the service. */
async function migrate(context: ContenderContext, url: string): Promise<void> {
  await exec(context.node, [join(context.root, 'src/services/users/migrate.ts')], {
    cwd: context.work,
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: url, LOG_LEVEL: 'warn' },
  });
}

export interface ContenderChoice {
  storages: readonly Storage[];
  nodeOptions: readonly string[];
  imageFlags?: readonly string[];
}

/** The unconstrained line-up: the service on each storage and the comparison servers. */
export function unconstrainedContenders(context: ContenderContext, choice: ContenderChoice): Contender[] {
  const list: Contender[] = [];
  const memory = async () => 'memory://';
  for (const storage of choice.storages) {
    if (storage === 'memory') {
      list.push(
        userService(context, 'user-service', 'memory', memory, context.sampleRatio, choice.nodeOptions),
      );
      list.push(userService(context, TRACING_ALL_CONTENDER, 'memory', memory, 1, choice.nodeOptions));
      if (choice.imageFlags)
        list.push(
          userService(
            context,
            IMAGE_FLAGS_CONTENDER,
            'memory',
            memory,
            context.sampleRatio,
            choice.imageFlags,
          ),
        );
    }
    if (storage === 'pglite')
      list.push(
        userService(
          context,
          'user-service',
          'pglite',
          freshPglite(context),
          context.sampleRatio,
          choice.nodeOptions,
        ),
      );
    if (storage === 'postgres' && context.databases)
      list.push(postgresService(context, choice.nodeOptions), pgRaw(context));
  }
  list.push(ecosystem(context), nodeRaw(context));
  if (context.goBinary) list.push(go(context, context.goBinary));
  return list;
}

/** The pod-mode line-up: reads on memory:// against the in-memory baselines, POST on PostgreSQL against pg-raw. */
export function podContenders(context: ContenderContext): Contender[] {
  const memory = async () => 'memory://';
  const reads: ScenarioName[] = ['get-by-id'];
  const list: Contender[] = [
    { ...userService(context, 'user-service', 'memory', memory, context.sampleRatio, []), scenarios: reads },
    { ...userService(context, TRACING_OFF_CONTENDER, 'memory', memory, null, []), scenarios: reads },
    { ...userService(context, TRACING_ALL_CONTENDER, 'memory', memory, 1, []), scenarios: reads },
    { ...ecosystem(context), scenarios: reads },
    { ...nodeRaw(context), scenarios: reads },
  ];
  if (context.goBinary) list.push({ ...go(context, context.goBinary), scenarios: reads });
  if (context.databases)
    list.push(
      { ...postgresService(context, []), scenarios: ['post'] },
      { ...pgRaw(context), scenarios: ['post'] },
    );
  return list;
}

function postgresService(context: ContenderContext, nodeFlags: readonly string[]): Contender {
  const database = context.databases!.service;
  return userService(
    context,
    'user-service',
    'postgres',
    async () => {
      await database.recreate();
      return database.url;
    },
    context.sampleRatio,
    nodeFlags,
  );
}

function pgRaw(context: ContenderContext): Contender {
  const database = context.databases!.raw;
  return contender(
    PG_RAW_CONTENDER,
    'postgres',
    async () => {
      await database.recreate();
      await migrate(context, database.url);
      return database.url;
    },
    async (databaseUrl, pod) => {
      const port = await freePort();
      const env = {
        ...baseEnv(port),
        DATABASE_URL: databaseUrl,
        DB_POOL_MAX: String(context.defaults.poolMax),
      };
      return launch(context, context.node, [join(context.root, 'bench/pg-raw/server.ts')], env, port, pod);
    },
    ['get-by-id', 'post'],
  );
}

function ecosystem(context: ContenderContext): Contender {
  return contender(
    ECOSYSTEM_CONTENDER,
    'memory',
    async () => '',
    async (_url, pod) => {
      const port = await freePort();
      const env = {
        ...baseEnv(port),
        NODE_ENV: 'production',
        OTEL_EXPORTER_OTLP_ENDPOINT: context.otlpEndpoint,
        OTEL_TRACES_SAMPLER_ARG: String(context.sampleRatio),
      };
      return launch(context, context.node, [join(context.root, 'bench/ecosystem/server.ts')], env, port, pod);
    },
  );
}

function nodeRaw(context: ContenderContext): Contender {
  return contender(
    BASELINES.node,
    'memory',
    async () => '',
    async (_url, pod) => {
      const port = await freePort();
      return launch(
        context,
        context.node,
        [join(context.root, 'bench/node-raw/server.ts')],
        baseEnv(port),
        port,
        pod,
      );
    },
  );
}

function go(context: ContenderContext, binary: string): Contender {
  return contender(
    BASELINES.go,
    'memory',
    async () => '',
    async (_url, pod) => {
      const port = await freePort();
      return launch(context, binary, [], { ...baseEnv(port), GOMAXPROCS: '1' }, port, pod);
    },
  );
}

export function isUserService(c: Pick<Contender, 'contender'>): boolean {
  return c.contender.startsWith('user-service');
}
