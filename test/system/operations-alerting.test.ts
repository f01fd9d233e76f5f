import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type AlertmanagerServer,
  relayTestConfig,
  startAlertmanager,
} from '../support/alertmanager-server.ts';
import { KubernetesApiDouble } from '../support/kubernetes-api-double.ts';
import { type PrometheusServer, startPrometheus } from '../support/prometheus-server.ts';
import { needs } from '../support/requirements.ts';
import { SmsGatewayDouble } from '../support/sms-gateway-double.ts';
import { type RunningService, spawnService } from '../support/spawn-service.ts';
import { WechatRobotDouble } from '../support/wechat-robot-double.ts';

/**
 * The whole alerting path with real servers: a test exporter (kube-state-metrics' restart counter and pod info,
 * values set by the test) -> Prometheus with the committed rules (deploy/monitoring/rules/kubernetes-pods.yml,
 * unchanged: PodRestartingTooOften has no `for:`, so no test copy is needed) -> Alertmanager with the committed
 * config (receiver URLs and token file pointed at the test's relay, group waits 1 s) -> the relay as its own
 * process -> doubles of the WeChat Work robot, the Aliyun SMS API and the Kubernetes API.
 */

const RULES = 'deploy/monitoring/rules/kubernetes-pods.yml';
const RELAY_TOKEN = 'system-test-relay-token-42';
const K8S_TOKEN = 'system-test-sa-token';

interface ExportedPod {
  namespace: string;
  pod: string;
  node: string;
  restarts: number;
  /** false once the pod is gone (replaced): kube_pod_info stops, so the alert's join is empty and it resolves. */
  present: boolean;
}

/** kube-state-metrics stand-in: the two series the restart alert reads, under the test's control. */
class TestExporter {
  readonly pods = new Map<string, ExportedPod>();
  #server: Server | undefined;
  address = '';

  set(pod: ExportedPod): void {
    this.pods.set(`${pod.namespace}/${pod.pod}`, pod);
  }

  render(): string {
    const lines = [
      '# HELP kube_pod_container_status_restarts_total The number of container restarts per container.',
      '# TYPE kube_pod_container_status_restarts_total counter',
    ];
    for (const p of this.pods.values()) {
      lines.push(
        `kube_pod_container_status_restarts_total{namespace="${p.namespace}",pod="${p.pod}",container="app"} ${p.restarts}`,
      );
    }
    lines.push('# HELP kube_pod_info Information about pod.', '# TYPE kube_pod_info gauge');
    for (const p of this.pods.values()) {
      if (!p.present) continue;
      lines.push(
        `kube_pod_info{namespace="${p.namespace}",pod="${p.pod}",node="${p.node}",created_by_kind="ReplicaSet"} 1`,
      );
    }
    return `${lines.join('\n')}\n`;
  }

  async start(): Promise<void> {
    this.#server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(this.render());
    });
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    this.address = `127.0.0.1:${(this.#server.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    if (!this.#server) return;
    this.#server.close();
    this.#server.closeAllConnections();
    await once(this.#server, 'close');
  }
}

const skip = needs('prometheus', 'alertmanager');
const iso = (ms: number) => new Date(ms).toISOString();

describe('operations: Prometheus -> Alertmanager -> relay -> WeChat, SMS and Kubernetes', { skip }, () => {
  const wechat = new WechatRobotDouble('system-robot-key');
  const sms = new SmsGatewayDouble('aliyun', { id: 'LTAI-system-test', secret: 'aliyun-system-secret' });
  const kube = new KubernetesApiDouble(K8S_TOKEN);
  const exporter = new TestExporter();
  let dir = '';
  let relay: RunningService | undefined;
  let alertmanager: AlertmanagerServer | undefined;
  let prometheus: PrometheusServer | undefined;

  const writeSetting = async (key: string, value: string) => {
    // Written aside and renamed in, so the relay never reads half a file.
    await writeFile(join(dir, `.${key}.tmp`), value);
    await rename(join(dir, `.${key}.tmp`), join(dir, 'config', key));
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'operations-alerting-'));
    await writeFile(join(dir, 'relay-token'), `${RELAY_TOKEN}\n`);
    await writeFile(join(dir, 'sa-token'), K8S_TOKEN);
    await rm(join(dir, 'config'), { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, 'config')));
    await writeSetting('REMEDIATION_MODE', 'on');
    await Promise.all([wechat.start(), sms.start(), kube.start(), exporter.start()]);
    for (const node of ['node-a', 'node-b', 'node-c']) kube.addNode(node);
    kube.addWorkload('Deployment', 'users', 'user-service', 3, [
      { name: 'user-service-1', node: 'node-a' },
      { name: 'user-service-2', node: 'node-a' },
      { name: 'user-service-3', node: 'node-b' },
    ]);
    kube.addWorkload('Deployment', 'shop', 'orders', 2, [{ name: 'orders-1', node: 'node-c' }]);
    for (const [namespace, pod, node] of [
      ['users', 'user-service-1', 'node-a'],
      ['users', 'user-service-2', 'node-a'],
      ['users', 'user-service-3', 'node-b'],
      ['shop', 'orders-1', 'node-c'],
    ] as const) {
      exporter.set({ namespace, pod, node, restarts: 0, present: true });
    }

    relay = await spawnService({
      entry: 'src/services/alert-relay/main.ts',
      env: {
        RELAY_WEBHOOK_TOKEN_FILE: join(dir, 'relay-token'),
        CONFIG_DIR: join(dir, 'config'),
        CONFIG_POLL_INTERVAL_MS: '500',
        WECHAT_WEBHOOK_URL: wechat.url,
        WECHAT_WEBHOOK_KEY: wechat.key,
        SMS_PROVIDER: 'aliyun',
        ALIYUN_SMS_ENDPOINT: sms.url,
        ALIYUN_ACCESS_KEY_ID: sms.credentials.id,
        ALIYUN_ACCESS_KEY_SECRET: sms.credentials.secret,
        SMS_PHONE_NUMBERS: '13800000000',
        SMS_SIGN_NAME: 'oncall',
        SMS_TEMPLATE_ID: 'SMS_900001',
        KUBERNETES_API_URL: kube.url,
        KUBERNETES_TOKEN_PATH: join(dir, 'sa-token'),
        REMEDIATION_NAMESPACES: 'users,shop',
        MTTR_POLL_INTERVAL_MS: '200',
        MTTR_STABLE_S: '1',
        NOTIFY_RETRY_INITIAL_DELAY_MS: '50',
      },
    });
    alertmanager = await startAlertmanager(
      await relayTestConfig('deploy/monitoring/alertmanager.yml', {
        relayUrl: relay.url,
        tokenFile: join(dir, 'relay-token'),
      }),
    );
    prometheus = await startPrometheus({
      targets: [{ job: 'kube-state-metrics', targets: [exporter.address] }],
      ruleFiles: [RULES],
      alertmanagers: [alertmanager.address],
    });
    await prometheus.waitForTargetsUp();
    // Two scrapes of the quiet counter, so the jump below is an increase and not a new series.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const samples = await prometheus.query('count_over_time(kube_pod_container_status_restarts_total[1m])');
      if (samples.length === 4 && samples.every((s) => s.value >= 2)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  });

  after(async () => {
    await prometheus?.stop();
    await alertmanager?.stop();
    await relay?.stop();
    await Promise.all([wechat.stop(), sms.stop(), kube.stop(), exporter.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const failMessage = () =>
    `relay stderr: ${relay?.stderr.join('\n')}\nalertmanager: ${alertmanager?.log()}\nprometheus: ${prometheus?.log()}`;

  test('restart storm: critical alert on WeChat and SMS, exactly one scale-up, at most one cordon, within the goal', async (t) => {
    // The Kubernetes side of the storm: one of three replicas ready, the failing pods' restart counts up.
    kube.setReady('Deployment', 'users', 'user-service', 1);
    kube.setRestarts('users', 'user-service-1', 9);
    kube.setRestarts('users', 'user-service-2', 9);
    const bumpedAt = Date.now();
    for (const pod of ['user-service-1', 'user-service-2']) {
      const current = exporter.pods.get(`users/${pod}`)!;
      exporter.set({ ...current, restarts: 9 });
    }
    const scale = await kube.http
      .waitFor((r) => r.method === 'PATCH' && r.path.endsWith('/deployments/user-service/scale'), 30_000)
      .catch((error: Error) => assert.fail(`${error.message}\n${failMessage()}`));
    // Log lines are buffered for up to 250 ms: wait for the line rather than look for it.
    const received = await relay!.waitForLine(
      (line) => line.message === 'alert notification received' && line.receiver === 'relay-critical',
      5_000,
    );
    const leftAlertmanagerAt = Date.parse(received.timestamp);
    const toRemediation = scale.at - leftAlertmanagerAt;
    t.diagnostic(
      `counter jump -> scale PATCH: ${scale.at - bumpedAt} ms (scrape 1 s, evaluation 1 s, group_wait 1 s)`,
    );
    t.diagnostic(`alert leaving Alertmanager -> scale PATCH: ${toRemediation} ms (goal <= 5000 ms)`);
    console.log(`figure: alert leaving Alertmanager -> remediation call: ${toRemediation} ms`);
    assert.ok(toRemediation <= 5_000, `${toRemediation} ms`);
    assert.deepEqual(JSON.parse(scale.body).spec, { replicas: 4 });

    const [criticalWechat, criticalSms] = await Promise.all([
      wechat.http.waitFor((r) => r.body.includes('FIRING: PodRestartingTooOften'), 15_000),
      sms.http.waitFor(() => sms.messages.some((m) => m.params[0] === 'FIRING'), 15_000),
    ]);
    assert.ok(criticalWechat && criticalSms);
    const firing = wechat.messages.find((m) => m.content.includes('FIRING: PodRestartingTooOften'))!;
    assert.match(firing.content, /severity: .*critical/);
    assert.match(
      firing.content,
      /summary: Pod users\/user-service-[12] restarted more than 5 times in 15 minutes/,
    );
    assert.match(
      firing.content,
      /runbook: \[https:\/\/runbooks\.user-service\.dev\/alerts\/PodRestartingTooOften\]/,
    );
    assert.match(firing.content, /`node=node-a`/);
    assert.deepEqual(sms.refused, []);

    // Both failing pods sit on node-a: it is cordoned, once, with a merge patch.
    await kube.http.waitFor((r) => r.method === 'PATCH' && r.path === '/api/v1/nodes/node-a', 15_000);
    // Let Alertmanager send its next group updates; nothing may act twice.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const scales = kube.writes.filter((r) => r.path.endsWith('/scale'));
    const cordons = kube.writes.filter((r) => r.path.startsWith('/api/v1/nodes/'));
    assert.equal(scales.length, 1, 'exactly one scale-up');
    assert.ok(cordons.length <= 1, 'at most one cordon');
    assert.deepEqual(JSON.parse(cordons[0]!.body), { spec: { unschedulable: true } });
    assert.equal(cordons[0]!.headers['content-type'], 'application/merge-patch+json');
    assert.equal(kube.replicas('Deployment', 'users', 'user-service'), 4);
    assert.equal(kube.nodes.get('node-a')?.spec.unschedulable, true);
  });

  test('MTTR of one incident: from the alert startsAt to the Deployment healthy again, while the alert still fires', async (t) => {
    const firing = (await prometheus!.alerts()).filter(
      (a) =>
        a.labels.alertname === 'PodRestartingTooOften' &&
        a.labels.namespace === 'users' &&
        a.state === 'firing',
    );
    assert.equal(firing.length, 2, JSON.stringify(firing));
    const firstSignal = Math.min(...firing.map((a) => Date.parse(a.activeAt ?? '')));
    // The known time the workload turns healthy: every replica ready, no further restarts.
    const healthyAt = Date.now();
    kube.setReady('Deployment', 'users', 'user-service', undefined);
    const line = await relay!
      .waitForLine(
        (l) => String(l.message).startsWith('workload recovered: Deployment users/user-service'),
        15_000,
      )
      .catch((error: Error) => assert.fail(`${error.message}\n${failMessage()}`));
    const summary = (await (await fetch(`${relay!.url}/mttr`)).json()) as {
      recent: { workload: string; started_at: string; recovered_at: string; seconds: number }[];
      overall: { p50_seconds: number; p90_seconds: number } | null;
    };
    const incident = summary.recent.find((sample) => sample.workload === 'Deployment users/user-service');
    assert.ok(incident, JSON.stringify(summary));
    const startedAt = Date.parse(incident.started_at);
    const recoveredAt = Date.parse(incident.recovered_at);
    assert.ok(
      Math.abs(startedAt - firstSignal) <= 1,
      `started ${incident.started_at}, Prometheus activeAt ${iso(firstSignal)}`,
    );
    const lag = recoveredAt - healthyAt;
    assert.ok(
      lag >= 0 && lag <= 2_000,
      `repair seen ${lag} ms after the Deployment turned healthy (poll 200 ms)`,
    );
    assert.equal(incident.seconds, Math.round(recoveredAt - startedAt) / 1000);
    assert.equal(line.mttr_seconds, incident.seconds);
    // The alert's 15-minute window keeps it firing: its resolution would have measured something else.
    const stillFiring = (await prometheus!.alerts()).filter(
      (a) =>
        a.labels.alertname === 'PodRestartingTooOften' &&
        a.labels.namespace === 'users' &&
        a.state === 'firing',
    );
    assert.equal(stillFiring.length, 2, 'the alert still fires after the repair');
    const metrics = await (await fetch(`${relay!.url}/metrics`)).text();
    assert.match(
      metrics,
      /workload_mttr_seconds_count\{[^}]*namespace="users",workload="user-service"[^}]*\} 1/,
    );
    assert.match(metrics, /workload_mttr_window_seconds\{[^}]*quantile="0.5"[^}]*\} \d/);
    t.diagnostic(
      `MTTR ${incident.seconds} s (first failing signal -> healthy), seen ${lag} ms after the repair`,
    );
    console.log(
      `figure: MTTR of the restart storm: ${incident.seconds} s; repair seen ${lag} ms after it happened`,
    );
  });

  test('a warning reaches WeChat only; a critical twin silences its warning (inhibition)', async () => {
    const smsBefore = sms.messages.length;
    await alertmanager!.postAlerts([
      {
        labels: { alertname: 'UserServiceSlowRequests', severity: 'warning', service: 'user-service' },
        annotations: {
          summary: 'Slow requests above budget',
          runbook_url: 'https://runbooks.user-service.dev/alerts/UserServiceSlowRequests',
        },
      },
      {
        labels: { alertname: 'UserServiceErrorBudgetBurn', severity: 'critical', service: 'user-service' },
        annotations: { summary: 'Fast error-budget burn' },
      },
      {
        labels: { alertname: 'UserServiceErrorBudgetBurn', severity: 'warning', service: 'user-service' },
        annotations: { summary: 'Slow error-budget burn' },
      },
    ]);
    await wechat.http.waitFor((r) => r.body.includes('UserServiceSlowRequests'), 15_000);
    await wechat.http.waitFor((r) => r.body.includes('Fast error-budget burn'), 15_000);
    await sms.http.waitFor(
      () => sms.messages.some((m) => (m.params[1] ?? '').startsWith('UserServiceErrorB')),
      15_000,
    );
    // The warning groups have had several group_wait/group_interval periods to be sent by now.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    assert.ok(
      !wechat.messages.some((m) => m.content.includes('Slow error-budget burn')),
      'inhibited warning stayed silent',
    );
    const newSms = sms.messages.slice(smsBefore);
    assert.ok(
      newSms.every((m) => !(m.params[1] ?? '').startsWith('UserServiceSlowRe')),
      'no SMS for a warning',
    );
  });

  test('the pods go away: resolved notices on WeChat and SMS, MTTR recorded', async (t) => {
    for (const pod of ['user-service-1', 'user-service-2']) {
      const current = exporter.pods.get(`users/${pod}`)!;
      exporter.set({ ...current, present: false });
    }
    await wechat.http.waitFor((r) => r.body.includes('RESOLVED: PodRestartingTooOften'), 30_000);
    await sms.http.waitFor(() => sms.messages.some((m) => m.params[0] === 'RESOLVED'), 15_000);
    const metrics = await (await fetch(`${relay!.url}/metrics`)).text();
    // How long the alert stayed open is kept too, apart from MTTR.
    assert.match(metrics, /alert_open_seconds_count\{[^}]*alertname="PodRestartingTooOften"[^}]*\} [1-9]/);
    const open = metrics.match(/alert_open_seconds_sum\{[^}]*alertname="PodRestartingTooOften"[^}]*\} (\S+)/);
    t.diagnostic(`PodRestartingTooOften open for ${open?.[1]} s in total (alert duration, not MTTR)`);
    assert.match(metrics, /remediations_total\{[^}]*action="scale_up",result="success"[^}]*\} 1/);
  });

  test('switched to dry-run live, a new restart storm is reported but nothing is written', async () => {
    await writeSetting('REMEDIATION_MODE', 'dry-run');
    await relay!.waitForLine(
      (line) =>
        line.message.startsWith('configuration reloaded') &&
        String(line.message).includes('REMEDIATION_MODE'),
      10_000,
    );
    const writesBefore = kube.writes.length;
    const current = exporter.pods.get('shop/orders-1')!;
    exporter.set({ ...current, restarts: 12 });
    const line = await relay!.waitForLine(
      (l) =>
        typeof l.message === 'string' &&
        l.message.startsWith('remediation scale_up Deployment shop/orders: dry_run'),
      30_000,
    );
    assert.match(String(line.message), /would scale: replicas 2 -> 3/);
    assert.ok(
      kube.http.requests.some(
        (r) => r.method === 'GET' && r.path === '/apis/apps/v1/namespaces/shop/deployments/orders/scale',
      ),
    );
    assert.equal(kube.writes.length, writesBefore, 'no write call in dry-run');
    assert.equal(kube.replicas('Deployment', 'shop', 'orders'), 2);
  });
});
