import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { decodeConfig } from '../../src/platform/config/load-config.ts';
import { HealthRegistry } from '../../src/platform/health/health-registry.ts';
import { createLogger } from '../../src/platform/logging/logger.ts';
import { createMetricsRegistry } from '../../src/platform/metrics/metrics-registry.ts';
import { buildRelayApp } from '../../src/services/alert-relay/app.ts';
import { relayConfigSchema } from '../../src/services/alert-relay/config.ts';
import {
  createRelayComponents,
  type RelayComponents,
} from '../../src/services/alert-relay/relay-components.ts';
import type { KubernetesApi } from '../../src/services/alert-relay/remediation/kubernetes-api.ts';
import {
  type RemediationSettings,
  Remediator,
} from '../../src/services/alert-relay/remediation/remediator.ts';
import { LogCapture } from './log-capture.ts';

export const RELAY_TOKEN = 'relay-test-token-0123456789';

export interface RelayInstance {
  url: string;
  app: FastifyInstance;
  components: RelayComponents;
  logs: LogCapture;
  post(path: string, body: unknown, token?: string): Promise<Response>;
  close(): Promise<void>;
}

/** The relay built from string settings (as the environment would give them), listening on a free port. */
export async function startRelay(
  settings: Record<string, string>,
  kubernetesToken: string,
): Promise<RelayInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'relay-'));
  const tokenPath = join(dir, 'token');
  await writeFile(tokenPath, `${kubernetesToken}\n`);
  const layer = Object.fromEntries(
    Object.entries({ RELAY_WEBHOOK_TOKEN: RELAY_TOKEN, KUBERNETES_TOKEN_PATH: tokenPath, ...settings }).map(
      ([key, value]) => [key, { value, origin: 'test' }],
    ),
  );
  const { values: config } = decodeConfig(relayConfigSchema, layer);
  const logs = new LogCapture();
  const { logger } = createLogger({
    service: 'alert-relay',
    version: 'test',
    level: 'info',
    destination: logs,
  });
  const metrics = createMetricsRegistry({ service: 'alert-relay', version: 'test', canary: false });
  const components = createRelayComponents({
    config,
    current: () => config,
    kubernetesUrl: config.KUBERNETES_API_URL ?? 'http://127.0.0.1:1',
    logger,
    metrics,
  });
  const app = await buildRelayApp({
    logger,
    health: new HealthRegistry({ timeoutMs: 1_000 }),
    ...components,
    metrics,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    app,
    components,
    logs,
    post: (path, body, token = RELAY_TOKEN) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    close: async () => {
      components.mttr.close();
      await app.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Remediation switched on for namespace `users`, cordoning out of reach and retries a few milliseconds apart. */
export function remediationSettings(overrides: Partial<RemediationSettings> = {}): RemediationSettings {
  return {
    mode: 'on',
    alertName: 'PodRestartingTooOften',
    allowedNamespaces: ['users'],
    maxReplicas: 10,
    scaleCooldownMs: 900_000,
    maxActionsPerHour: 6,
    cordonPodThreshold: 99,
    minSchedulableNodes: 2,
    maxCordonedNodes: 1,
    failingPodTtlMs: 1_800_000,
    writeRetries: 2,
    retryInitialDelayMs: 1,
    retryMaxDelayMs: 5,
    ...overrides,
  };
}

/** A Remediator on its own (no app around it), logging nowhere, with its own metrics registry. */
export function quietRemediator(
  kubernetes: KubernetesApi,
  current: RemediationSettings,
  now?: () => number,
): Remediator {
  return new Remediator({
    kubernetes,
    logger: pino({ level: 'silent' }),
    metrics: new Registry(),
    settings: () => current,
    ...(now ? { now } : {}),
  });
}

/** What each remediation record did, as `action:result`. */
export const actionResults = (records: { action: string; result: string }[]) =>
  records.map((r) => `${r.action}:${r.result}`);
