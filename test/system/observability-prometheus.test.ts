import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { parse } from 'yaml';
import { DASHBOARD_FILE } from '../../deploy/monitoring/build.ts';
import { dashboardTargets, resolveVariables } from '../../deploy/monitoring/grafana/dashboard.ts';
import { renderQuery } from '../../deploy/monitoring/queries.ts';
import { pollUntil } from '../../scripts/lib/poll-until.ts';
import { type PrometheusServer, startPrometheus } from '../support/prometheus-server.ts';
import { needs } from '../support/requirements.ts';
import { RiskDouble } from '../support/risk-double.ts';
import { type RunningService, spawnService } from '../support/spawn-service.ts';

/**
 * The shared queries, evaluated by a real Prometheus scraping real service processes under load. Targets carry
 * the `namespace` label the ServiceMonitor gives them: `slow` runs in staging, the others in prod.
 * - `slow`:   staging; 5 % of requests delayed by 1 s (FAULT_SLOW_RATIO=0.05) → P99 above 0.8 s
 * - `clean`:  prod; no faults, embedded database, risk service → P99 below 0.8 s, error ratio 0; feeds every
 *             dashboard panel (DB pool, breakers)
 * - `canary`: prod; a canary pod (CANARY=true, as the downward-API file sets it) → the canary panels
 * - `errors`: prod; 10 % of requests fail with an injected 500 (FAULT_ERROR_RATIO=0.1) → error ratio ≈ 0.1
 * Slow staging must not show in prod's P99 or in any prod alert. Then the load stops, and with a window shorter
 * than the quiet time every query must be empty, not NaN.
 */

const WINDOW = '30s';
const LOAD_MS = 15_000;
const WORKERS_PER_INSTANCE = 4;
/** Each client sends at most one request per this many ms (≈160 requests/s per instance): enough samples, and
 * the machine's other work keeps its cores. */
const CLIENT_PACE_MS = 25;
const INJECTED_ERROR_RATIO = 0.1;
const SLOW_RATIO = 0.05;
const PROD = 'user-service';
const STAGING = 'user-service-staging';

interface Instance {
  job: string;
  env: Record<string, string>;
  namespace: string;
  service?: RunningService;
  sent: number;
  serverErrors: number;
  /** Answers that took longer than 1 s as the client saw them. */
  slowAnswers: number;
  /** Requests that got no HTTP answer at all (reset, timeout). */
  transportErrors: string[];
}

const instances: Instance[] = [
  {
    job: 'slow',
    env: { FAULT_SLOW_RATIO: String(SLOW_RATIO), FAULT_SLOW_MS: '1000' },
    namespace: STAGING,
    sent: 0,
    serverErrors: 0,
    slowAnswers: 0,
    transportErrors: [],
  },
  {
    job: 'clean',
    env: { DATABASE_URL: 'pglite://memory' },
    namespace: PROD,
    sent: 0,
    serverErrors: 0,
    slowAnswers: 0,
    transportErrors: [],
  },
  {
    job: 'canary',
    env: { CANARY: 'true' },
    namespace: PROD,
    sent: 0,
    serverErrors: 0,
    slowAnswers: 0,
    transportErrors: [],
  },
  {
    job: 'errors',
    env: { FAULT_ERROR_RATIO: String(INJECTED_ERROR_RATIO) },
    namespace: PROD,
    sent: 0,
    serverErrors: 0,
    slowAnswers: 0,
    transportErrors: [],
  },
];
const byJob = (job: string) => instances.find((instance) => instance.job === job)!;
const selector = (job: string) => `service="user-service",job="${job}"`;

/** Drives one instance with a bounded number of concurrent clients until `until`: lists, reads, creates. */
async function drive(instance: Instance, until: number): Promise<void> {
  const base = instance.service!.url;
  const ids: string[] = [];
  const worker = async (workerIndex: number) => {
    let n = 0;
    while (Date.now() < until) {
      const paced = delay(CLIENT_PACE_MS);
      n += 1;
      const headers: Record<string, string> = {};
      let request: Promise<Response>;
      const pick = n % 10;
      if (pick === 0) {
        request = fetch(`${base}/users`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({
            name: 'Load User',
            email: `load-${workerIndex}-${n}-${Date.now()}@example.com`,
          }),
          signal: AbortSignal.timeout(10_000),
        });
      } else if (pick < 4 && ids.length > 0) {
        request = fetch(`${base}/users/${ids[n % ids.length]}`, {
          headers,
          signal: AbortSignal.timeout(10_000),
        });
      } else {
        request = fetch(`${base}/users?limit=5`, { headers, signal: AbortSignal.timeout(10_000) });
      }
      let response: Response;
      const sentAt = performance.now();
      try {
        response = await request;
      } catch (error) {
        instance.transportErrors.push(String((error as Error).cause ?? error));
        await paced;
        continue;
      }
      instance.sent += 1;
      if (performance.now() - sentAt > 1_000) instance.slowAnswers += 1;
      if (response.status >= 500) instance.serverErrors += 1;
      const body = (await response.json()) as { id?: string };
      if (response.status === 201 && body.id && ids.length < 50) ids.push(body.id);
      await paced;
    }
  };
  await Promise.all(Array.from({ length: WORKERS_PER_INSTANCE }, (_, index) => worker(index)));
}

describe('shared queries and dashboard against a real Prometheus', { skip: needs('prometheus') }, () => {
  const risk = new RiskDouble();
  let prometheus: PrometheusServer;
  /** Evaluation time right after the load, once every target has been scraped past it (epoch seconds). */
  let loadedAt = 0;
  let quietAt = 0;

  const value = async (expr: string, time: number) => {
    const samples = await prometheus.query(expr, time);
    assert.equal(samples.length, 1, `${expr} gave ${JSON.stringify(samples)}`);
    return samples[0]!.value;
  };
  const shared = (name: string, job: string, window = WINDOW) =>
    renderQuery(name, { selector: selector(job), window });

  /** Resolves once every target has a scrape later than `epochSeconds`. */
  const scrapedAfter = async (epochSeconds: number) => {
    await pollUntil(
      async () => {
        const samples = await prometheus.query('min(timestamp(up))');
        const count = await prometheus.query('count(up == 1)');
        return samples[0] && samples[0].value > epochSeconds && count[0]?.value === instances.length;
      },
      { what: `a scrape of every target after ${epochSeconds}`, timeoutMs: 20_000, intervalMs: 250 },
    ).catch((error: Error) => {
      throw new Error(`${error.message}: ${prometheus.log()}`);
    });
  };

  before(async () => {
    const started = performance.now();
    await risk.start();
    await Promise.all(
      instances.map(async (instance) => {
        instance.service = await spawnService({
          env: {
            DATABASE_URL: 'memory://',
            RISK_SERVICE_URL: risk.url,
            RISK_SERVICE_TOKEN: 'test-token',
            APP_VERSION: '1.4.0',
            ...instance.env,
          },
        });
      }),
    );
    prometheus = await startPrometheus({
      targets: instances.map((instance) => ({
        job: instance.job,
        targets: [`127.0.0.1:${instance.service!.port}`],
        labels: { namespace: instance.namespace },
      })),
      ruleFiles: ['deploy/monitoring/rules/user-service.yml', 'deploy/monitoring/rules/kubernetes-pods.yml'],
    });
    await prometheus.waitForTargetsUp();
    console.log(`# services and Prometheus up in ${Math.round(performance.now() - started)} ms`);

    const until = Date.now() + LOAD_MS;
    await Promise.all(instances.map((instance) => drive(instance, until)));
    loadedAt = Date.now() / 1000;
    await scrapedAfter(loadedAt + 1);
    for (const instance of instances) {
      console.log(
        `# ${instance.job}: ${instance.sent} requests in ${LOAD_MS / 1000} s, ${instance.serverErrors} answered 5xx, ${instance.transportErrors.length} without answer ${instance.transportErrors.slice(0, 3).join('; ')}`,
      );
    }
  });

  after(async () => {
    await prometheus?.stop();
    await Promise.all(instances.map((instance) => instance.service?.stop()));
    await risk.stop();
  });

  test('the load was answered: every request got an HTTP response', () => {
    for (const instance of instances) {
      assert.ok(instance.sent > 200, `${instance.job}: only ${instance.sent} requests`);
      assert.deepEqual(instance.transportErrors.slice(0, 3), [], `${instance.job} lost requests`);
    }
  });

  test('P99 is above 0.8 s with 5 % of requests taking 1 s, below without', async () => {
    const slow = await value(shared('p99_latency_seconds', 'slow'), loadedAt);
    const clean = await value(shared('p99_latency_seconds', 'clean'), loadedAt);
    const p50 = await value(shared('p50_latency_seconds', 'clean'), loadedAt);
    console.log(
      `# P99 with 5 % slow requests: ${slow.toFixed(3)} s; without: ${clean.toFixed(3)} s (P50 ${p50.toFixed(4)} s)`,
    );
    assert.ok(slow > 0.8, `P99 ${slow}`);
    assert.ok(clean < 0.8, `P99 ${clean}`);
  });

  test('the error ratio matches the injected rate and what the clients saw', async () => {
    const errors = byJob('errors');
    const measured = await value(shared('error_ratio', 'errors'), loadedAt);
    const seen = errors.serverErrors / errors.sent;
    const clean = await value(shared('error_ratio', 'clean'), loadedAt);
    console.log(
      `# error ratio: Prometheus ${measured.toFixed(4)}, clients ${seen.toFixed(4)}, injected ${INJECTED_ERROR_RATIO}; clean ${clean}`,
    );
    assert.ok(Math.abs(measured - INJECTED_ERROR_RATIO) < 0.04, `error ratio ${measured}`);
    assert.ok(Math.abs(measured - seen) < 0.03, `Prometheus ${measured} vs clients ${seen}`);
    assert.equal(clean, 0, 'no errors is 0, not "no data"');
  });

  test('slow requests are counted: about 5 % on the slow instance, none on the clean one', async () => {
    const rate = await value(shared('slow_request_rate', 'slow'), loadedAt);
    const ratio = await value(shared('slow_request_ratio', 'slow'), loadedAt);
    const clean = await value(shared('slow_request_rate', 'clean'), loadedAt);
    const slow = byJob('slow');
    const seen = slow.slowAnswers / slow.sent;
    console.log(
      `# slow requests: ${rate.toFixed(2)}/s, ratio ${ratio.toFixed(4)} (clients saw ${seen.toFixed(4)}, injected ${SLOW_RATIO}); clean ${clean}/s`,
    );
    assert.ok(ratio > 0.015 && ratio < 0.1, `slow ratio ${ratio}`);
    assert.ok(Math.abs(ratio - seen) < 0.02, `Prometheus ${ratio} vs clients ${seen}`);
    assert.equal(clean, 0);
  });

  test("a slow staging shows in staging's P99 and alert expression, never in prod's", async () => {
    const p99 = (namespace: string) =>
      renderQuery('p99_latency_seconds', {
        selector: `service="user-service",namespace="${namespace}"`,
        window: WINDOW,
      });
    const prod = await value(p99(PROD), loadedAt);
    const staging = await value(p99(STAGING), loadedAt);
    console.log(`# P99 by environment: prod ${prod.toFixed(3)} s, staging ${staging.toFixed(3)} s`);
    assert.ok(prod < 0.8, `prod P99 ${prod}`);
    assert.ok(staging > 0.8, `staging P99 ${staging}`);
    // The latency alert's own expression, as Prometheus evaluates it: one series, staging's.
    const { groups } = parse(readFileSync('deploy/monitoring/rules/user-service.yml', 'utf8')) as {
      groups: { rules: { alert?: string; expr: string }[] }[];
    };
    const alert = groups
      .flatMap((group) => group.rules)
      .find((r) => r.alert === 'UserServiceHighLatencyP99')!;
    const breaching = await prometheus.query(alert.expr.replaceAll('[5m]', `[${WINDOW}]`), loadedAt);
    assert.deepEqual(
      breaching.map((sample) => sample.metric.namespace),
      [STAGING],
    );
  });

  test('canary pods are told apart by the canary label', async () => {
    const canary = renderQuery('request_rate', {
      selector: `service="user-service",namespace="${PROD}",canary="true"`,
      window: WINDOW,
    });
    const stable = renderQuery('request_rate', {
      selector: `service="user-service",namespace="${PROD}",canary="false"`,
      window: WINDOW,
    });
    const canaryRate = await value(canary, loadedAt);
    const stableRate = await value(stable, loadedAt);
    console.log(`# traffic: canary ${canaryRate.toFixed(1)}/s, stable ${stableRate.toFixed(1)}/s`);
    assert.ok(canaryRate > 0 && stableRate > canaryRate);
  });

  test('every dashboard panel query parses and returns data in one environment', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8'));
    const empty: string[] = [];
    const targets = dashboardTargets(dashboard);
    const samplesIn = (expr: string, namespace: string) =>
      prometheus.query(
        resolveVariables(expr, { service: 'user-service', namespace, rateInterval: WINDOW }),
        loadedAt,
      ); // throws on a parse or evaluation error
    let withProdData = 0;
    for (const target of targets) {
      const prod = await samplesIn(target.expr, PROD);
      // Slow requests happen in staging alone (the `slow` instance), so their panels have data there only.
      const staging = await samplesIn(target.expr, STAGING);
      if (prod.length === 0 && staging.length === 0) empty.push(`${target.panel}/${target.refId}`);
      if (prod.length > 0) withProdData += 1;
    }
    console.log(
      `# dashboard: ${targets.length - empty.length} of ${targets.length} panel queries returned data (${withProdData} for prod)`,
    );
    assert.deepEqual(empty, []);
  });

  test('the alert rules load into Prometheus and evaluate without errors', async () => {
    const response = await fetch(`${prometheus.url}/api/v1/rules`);
    const body = (await response.json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const rules = body.data.groups.flatMap((group) => group.rules);
    assert.ok(rules.length >= 8, `${rules.length} rules loaded`);
    const broken = rules
      .filter((rule) => rule.health !== 'ok')
      .map((rule) => `${rule.name}: ${rule.lastError}`);
    assert.deepEqual(broken, []);
  });

  test('with no traffic in the window every shared query is empty, never NaN', async () => {
    // Quiet for longer than a 5 s window: counters exist but do not move, which is where a bare ratio gives NaN.
    quietAt = loadedAt + 7;
    await scrapedAfter(quietAt);
    const bare = await prometheus.query(
      `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{${selector('clean')}}[5s])))`,
      quietAt,
    );
    console.log(`# quiet window: the unguarded P99 gives ${bare.map((sample) => sample.value).join(', ')}`);
    for (const name of ['p99_latency_seconds', 'error_ratio', 'slow_request_rate', 'request_rate']) {
      for (const instance of instances) {
        const samples = await prometheus.query(shared(name, instance.job, '5s'), quietAt);
        assert.deepEqual(samples, [], `${name} for ${instance.job} in a quiet window`);
      }
    }
    // The same queries over a window that still holds the load do answer.
    assert.ok((await value(shared('p99_latency_seconds', 'slow', '60s'), quietAt)) > 0.8);
  });
});
