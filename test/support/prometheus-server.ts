import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { pollUntil } from '../../scripts/lib/poll-until.ts';
import { findBinary } from './requirements.ts';
import { type ServerBinary, spawnServerBinary } from './spawn-server-binary.ts';

/**
 * A real Prometheus (Debian `prometheus`) for one test: its own config, temp TSDB and free loopback port.
 *
 *   const skip = needs('prometheus');                    // skip reason on a laptop, throws with CI=true
 *   const prom = await startPrometheus({
 *     targets: [{ job: 'users', targets: ['127.0.0.1:1234'], labels: { env: 'test' } }],
 *     ruleFiles: ['deploy/monitoring/rules/user-service.yml'],   // optional, paths relative to the cwd
 *     alertmanagers: ['127.0.0.1:9093'],                          // optional, host:port
 *   });
 *   await prom.waitForTargetsUp();                       // every target scraped once with health "up"
 *   const samples = await prom.query('up');              // instant query: [{ metric: {...}, value: 1 }]
 *   const alerts = await prom.alerts();                  // GET /api/v1/alerts (state pending/firing)
 *   await prom.stop();                                   // in `after`; also removes the TSDB dir
 *
 * Scrape and rule evaluation run every second by default, so tests wait seconds, not minutes. `query` throws with
 * Prometheus' own error text when the expression does not parse or fails to evaluate.
 */

export interface ScrapeTarget {
  job: string;
  /** host:port pairs scraped at /metrics (or `metricsPath`). */
  targets: string[];
  labels?: Record<string, string>;
  metricsPath?: string;
}

export interface PrometheusOptions {
  targets?: ScrapeTarget[];
  ruleFiles?: string[];
  alertmanagers?: string[];
  scrapeIntervalSeconds?: number;
  evaluationIntervalSeconds?: number;
  /** Labels Prometheus adds to alerts and federation (`global.external_labels`). */
  externalLabels?: Record<string, string>;
  readyTimeoutMs?: number;
}

export interface Sample {
  metric: Record<string, string>;
  /** NaN and ±Inf come through as JavaScript numbers. */
  value: number;
}

export interface PrometheusAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
  activeAt?: string;
  value?: string;
}

export interface PrometheusTarget {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

export interface PrometheusServer {
  url: string;
  port: number;
  configFile: string;
  /** Instant query at `time` (seconds since the epoch; default now). Only vector and scalar results. */
  query(expr: string, time?: number): Promise<Sample[]>;
  alerts(): Promise<PrometheusAlert[]>;
  targets(): Promise<PrometheusTarget[]>;
  waitForTargetsUp(timeoutMs?: number): Promise<void>;
  /** Rewrites the config (same shape as the start options) and calls POST /-/reload. */
  reload(options: PrometheusOptions): Promise<void>;
  /** The process' output so far, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

function renderConfig(options: PrometheusOptions): string {
  const config: Record<string, unknown> = {
    global: {
      scrape_interval: `${options.scrapeIntervalSeconds ?? 1}s`,
      scrape_timeout: `${Math.min(options.scrapeIntervalSeconds ?? 1, 10)}s`,
      evaluation_interval: `${options.evaluationIntervalSeconds ?? 1}s`,
      ...(options.externalLabels ? { external_labels: options.externalLabels } : {}),
    },
    rule_files: (options.ruleFiles ?? []).map((file) => join(process.cwd(), file)),
    scrape_configs: (options.targets ?? []).map((target) => ({
      job_name: target.job,
      metrics_path: target.metricsPath ?? '/metrics',
      static_configs: [{ targets: target.targets, labels: target.labels ?? {} }],
    })),
  };
  if (options.alertmanagers?.length) {
    config.alerting = { alertmanagers: [{ static_configs: [{ targets: options.alertmanagers }] }] };
  }
  return stringify(config);
}

async function api<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const body = (await response.json()) as { status: string; data: T; error?: string; errorType?: string };
  if (body.status !== 'success') throw new Error(`Prometheus ${body.errorType}: ${body.error}`);
  return body.data;
}

export async function startPrometheus(options: PrometheusOptions = {}): Promise<PrometheusServer> {
  const binary = findBinary('prometheus');
  if (!binary) throw new Error('prometheus is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'prometheus-test-'));
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, renderConfig(options));

  let binaryServer: ServerBinary;
  try {
    binaryServer = await spawnServerBinary({
      name: 'Prometheus',
      binary,
      args: (port) => [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.enable-lifecycle',
        '--storage.tsdb.retention.time=1h',
        '--log.level=warn',
      ],
      readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const { url, port } = binaryServer;
  const server: PrometheusServer = {
    url,
    port,
    configFile,
    async query(expr, time) {
      const params = new URLSearchParams({ query: expr });
      if (time !== undefined) params.set('time', String(time));
      const data = await api<{ resultType: string; result: unknown }>(`${url}/api/v1/query`, {
        method: 'POST',
        body: params,
      });
      if (data.resultType === 'scalar') {
        const [, value] = data.result as [number, string];
        return [{ metric: {}, value: Number(value) }];
      }
      if (data.resultType !== 'vector') throw new Error(`unexpected result type ${data.resultType}`);
      return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((sample) => ({
        metric: sample.metric,
        value: Number(sample.value[1]),
      }));
    },
    async alerts() {
      return (await api<{ alerts: PrometheusAlert[] }>(`${url}/api/v1/alerts`)).alerts;
    },
    async targets() {
      return (await api<{ activeTargets: PrometheusTarget[] }>(`${url}/api/v1/targets`)).activeTargets;
    },
    async waitForTargetsUp(timeoutMs = 15_000) {
      let last: PrometheusTarget[] = [];
      await pollUntil(
        async () => {
          last = await server.targets();
          return last.length > 0 && last.every((target) => target.health === 'up');
        },
        { what: 'targets up', timeoutMs, intervalMs: 200 },
      ).catch((error: Error) => {
        throw new Error(`${error.message}: ${JSON.stringify(last)}`);
      });
    },
    async reload(next) {
      await writeFile(configFile, renderConfig(next));
      const response = await fetch(`${url}/-/reload`, {
        method: 'POST',
        signal: AbortSignal.timeout(10_000),
      });
      if (!response.ok) throw new Error(`reload failed: ${response.status} ${await response.text()}`);
    },
    log: binaryServer.log,
    async stop() {
      await binaryServer.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return server;
}
