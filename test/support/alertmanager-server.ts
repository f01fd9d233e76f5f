import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { findBinary } from './requirements.ts';
import { type ServerBinary, spawnServerBinary } from './spawn-server-binary.ts';

/**
 * A real Alertmanager (Debian `prometheus-alertmanager`) for one test: its own config, temp storage, a free
 * loopback port and no cluster listener.
 *
 *   const config = await relayTestConfig('deploy/monitoring/alertmanager.yml', { relayUrl, tokenFile });
 *   const am = await startAlertmanager(config);
 *   await am.postAlerts([{ labels: { alertname: 'X', severity: 'warning' } }]);   // POST /api/v2/alerts
 *   await am.stop();
 */
export interface AlertmanagerServer {
  url: string;
  /** host:port, as Prometheus' alerting config wants it. */
  address: string;
  postAlerts(
    alerts: {
      labels: Record<string, string>;
      annotations?: Record<string, string>;
      startsAt?: string;
      endsAt?: string;
    }[],
  ): Promise<void>;
  log(): string;
  stop(): Promise<void>;
}

interface Route {
  group_wait?: string;
  group_interval?: string;
  routes?: Route[];
}

/**
 * The committed Alertmanager config with what a test must change and nothing else: receiver URLs point at the
 * relay (path and query kept), the bearer token file is the test's, and grouping waits are short.
 */
export async function relayTestConfig(
  file: string,
  options: { relayUrl: string; tokenFile: string; groupWait?: string; groupInterval?: string },
): Promise<string> {
  const config = parse(await readFile(file, 'utf8')) as {
    route: Route;
    receivers: {
      name: string;
      webhook_configs?: { url: string; http_config?: { authorization?: { credentials_file?: string } } }[];
    }[];
  };
  for (const receiver of config.receivers) {
    for (const webhook of receiver.webhook_configs ?? []) {
      const original = new URL(webhook.url);
      webhook.url = `${options.relayUrl}${original.pathname}${original.search}`;
      if (webhook.http_config?.authorization)
        webhook.http_config.authorization.credentials_file = options.tokenFile;
    }
  }
  const shorten = (route: Route) => {
    if (route.group_wait !== undefined || route === config.route)
      route.group_wait = options.groupWait ?? '1s';
    if (route.group_interval !== undefined || route === config.route)
      route.group_interval = options.groupInterval ?? '1s';
    for (const child of route.routes ?? []) shorten(child);
  };
  shorten(config.route);
  return stringify(config);
}

export async function startAlertmanager(
  configYaml: string,
  options: { readyTimeoutMs?: number } = {},
): Promise<AlertmanagerServer> {
  const binary = findBinary('prometheus-alertmanager');
  if (!binary) throw new Error('prometheus-alertmanager is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'alertmanager-test-'));
  const configFile = join(dir, 'alertmanager.yml');
  await writeFile(configFile, configYaml);
  let server: ServerBinary;
  try {
    server = await spawnServerBinary({
      name: 'Alertmanager',
      binary,
      args: (port) => [
        `--config.file=${configFile}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      readyTimeoutMs: options.readyTimeoutMs ?? 20_000,
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const { url } = server;
  return {
    url,
    address: `127.0.0.1:${server.port}`,
    async postAlerts(alerts) {
      const response = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
        signal: AbortSignal.timeout(5_000),
      });
      if (!response.ok) throw new Error(`POST /api/v2/alerts: ${response.status} ${await response.text()}`);
    },
    log: server.log,
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
