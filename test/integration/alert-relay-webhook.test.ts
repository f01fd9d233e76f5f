import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { alert, payload } from '../support/alert-payloads.ts';
import { KubernetesApiDouble } from '../support/kubernetes-api-double.ts';
import { RELAY_TOKEN, type RelayInstance, startRelay } from '../support/relay-instance.ts';
import { SmsGatewayDouble } from '../support/sms-gateway-double.ts';
import { spawnService } from '../support/spawn-service.ts';
import { WechatRobotDouble } from '../support/wechat-robot-double.ts';

const K8S_TOKEN = 'k8s-service-account-token';
const CRITICAL = '/webhook?channels=wechat,sms';
const WARNING = '/webhook?channels=wechat';

const restart = (
  pod: string,
  node: string,
  extra: { status?: 'firing' | 'resolved'; startsAt?: string; endsAt?: string } = {},
) =>
  alert(
    {
      alertname: 'PodRestartingTooOften',
      severity: 'critical',
      namespace: 'users',
      pod,
      container: 'app',
      node,
    },
    extra,
  );

function channelSettings(
  wechat: WechatRobotDouble,
  sms: SmsGatewayDouble,
  kube: KubernetesApiDouble,
): Record<string, string> {
  const smsSettings: Record<string, string> =
    sms.provider === 'aliyun'
      ? {
          SMS_PROVIDER: 'aliyun',
          ALIYUN_SMS_ENDPOINT: sms.url,
          ALIYUN_ACCESS_KEY_ID: sms.credentials.id,
          ALIYUN_ACCESS_KEY_SECRET: sms.credentials.secret,
        }
      : {
          SMS_PROVIDER: 'tencent',
          TENCENT_SMS_ENDPOINT: sms.url,
          TENCENT_SECRET_ID: sms.credentials.id,
          TENCENT_SECRET_KEY: sms.credentials.secret,
          TENCENT_SMS_SDK_APP_ID: '1400000000',
        };
  return {
    WECHAT_WEBHOOK_URL: wechat.url,
    WECHAT_WEBHOOK_KEY: wechat.key,
    SMS_PHONE_NUMBERS: sms.provider === 'aliyun' ? '13800000000,13900000000' : '+8613800000000',
    SMS_SIGN_NAME: 'oncall',
    SMS_TEMPLATE_ID: 'SMS_123456',
    KUBERNETES_API_URL: kube.url,
    NOTIFY_RETRY_INITIAL_DELAY_MS: '10',
    NOTIFY_RETRY_MAX_DELAY_MS: '50',
    NOTIFY_BREAKER_THRESHOLD: '3',
    NOTIFY_BREAKER_HALF_OPEN_AFTER_MS: '60000',
    REMEDIATION_MODE: 'on',
    REMEDIATION_NAMESPACES: 'users',
    MTTR_STABLE_S: '0',
    ...smsSettings,
  };
}

describe('alert relay over real HTTP (Aliyun SMS, remediation on)', () => {
  const wechat = new WechatRobotDouble('robot-key-1');
  const sms = new SmsGatewayDouble('aliyun', { id: 'test-access-key', secret: 'test-access-secret' });
  const kube = new KubernetesApiDouble(K8S_TOKEN);
  let relay: RelayInstance;

  before(async () => {
    await Promise.all([wechat.start(), sms.start(), kube.start()]);
    for (const node of ['node-a', 'node-b', 'node-c']) kube.addNode(node);
    kube.addWorkload('Deployment', 'users', 'user-service', 3, [
      { name: 'user-service-1', node: 'node-a' },
      { name: 'user-service-2', node: 'node-a' },
      { name: 'user-service-3', node: 'node-a' },
    ]);
    kube.addWorkload('Rollout', 'users', 'user-service-canary', 1, [{ name: 'canary-1', node: 'node-b' }]);
    relay = await startRelay(channelSettings(wechat, sms, kube), K8S_TOKEN);
  });

  after(async () => {
    await relay?.close();
    await Promise.all([wechat.stop(), sms.stop(), kube.stop()]);
  });

  test('no token or a wrong token gets 401 problem+json and nothing is sent', async () => {
    const body = payload('relay-critical', [restart('user-service-1', 'node-a')]);
    for (const token of ['', 'not-the-token-at-all']) {
      const response = await relay.post(CRITICAL, body, token);
      assert.equal(response.status, 401);
      assert.equal(response.headers.get('content-type'), 'application/problem+json');
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
    assert.equal(wechat.messages.length, 0);
    assert.equal(kube.http.requests.length, 0);
  });

  test('a malformed payload gets 400 problem+json and the relay keeps serving', async () => {
    const bad = [
      '{"version": "4", "alerts": [',
      { ...payload('relay-critical', [restart('x', 'node-a')]), version: '3' },
      { ...payload('relay-critical', [restart('x', 'node-a')]), alerts: [] },
      {
        ...payload('relay-critical', [restart('x', 'node-a')]),
        alerts: [{ ...restart('x', 'node-a'), status: 'exploded' }],
      },
      { ...payload('relay-critical', [{ ...restart('x', 'node-a'), startsAt: 'yesterday' }]) },
      {
        ...payload('relay-critical', [restart('x', 'node-a')]),
        alerts: [{ ...restart('x', 'node-a'), labels: { severity: 'critical' } }],
      },
    ];
    for (const body of bad) {
      const response = await relay.post(CRITICAL, body);
      assert.equal(response.status, 400, JSON.stringify(body).slice(0, 80));
      assert.equal(response.headers.get('content-type'), 'application/problem+json');
      const problem = (await response.json()) as { status: number; type: string };
      assert.equal(problem.status, 400);
    }
    assert.equal(
      (await relay.post('/webhook?channels=fax', payload('r', [restart('x', 'node-a')]))).status,
      400,
    );
    assert.equal((await fetch(`${relay.url}/healthz`)).status, 200);
    assert.equal(kube.http.requests.length, 0);
  });

  test('a critical alert reaches WeChat and SMS and scales the owning Deployment up by one', async () => {
    const response = await relay.post(
      CRITICAL,
      payload('relay-critical', [restart('user-service-1', 'node-a')]),
    );
    assert.equal(response.status, 200);
    const body = (await response.json()) as { remediations: { action: string; result: string }[] };
    assert.deepEqual(
      body.remediations.map((r) => `${r.action}:${r.result}`),
      ['scale_up:success'],
    );

    assert.equal(wechat.messages.length, 1);
    const content = wechat.messages[0]?.content ?? '';
    assert.match(content, /FIRING: PodRestartingTooOften/);
    assert.match(content, /severity: .*critical/);
    assert.match(content, /summary: PodRestartingTooOften on user-service-1/);
    assert.match(content, /`pod=user-service-1`/);
    assert.match(content, /runbook: \[.*\]\(https:\/\/runbooks\.example\.com\/PodRestartingTooOften\)/);

    assert.equal(sms.messages.length, 1, `refused: ${JSON.stringify(sms.refused)}`);
    assert.deepEqual(sms.messages[0]?.phoneNumbers, ['13800000000', '13900000000']);
    assert.equal(sms.messages[0]?.params[0], 'FIRING');
    assert.equal(sms.messages[0]?.params[1], 'PodRestartingTooOft…');

    const paths = kube.http.requests.map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(paths, [
      'GET /api/v1/namespaces/users/pods/user-service-1',
      'GET /apis/apps/v1/namespaces/users/replicasets/user-service-7d9c5b',
      // No HPA owns user-service here, so the relay scales it itself.
      'GET /apis/autoscaling/v2/namespaces/users/horizontalpodautoscalers',
      'GET /apis/apps/v1/namespaces/users/deployments/user-service/scale',
      'PATCH /apis/apps/v1/namespaces/users/deployments/user-service/scale',
    ]);
    const patch = kube.writes[0]!;
    assert.equal(patch.headers['content-type'], 'application/merge-patch+json');
    const patchBody = JSON.parse(patch.body) as {
      spec: { replicas: number };
      metadata: { resourceVersion: string };
    };
    assert.equal(patchBody.spec.replicas, 4);
    assert.ok(patchBody.metadata.resourceVersion, 'optimistic concurrency through resourceVersion');
    assert.equal(kube.replicas('Deployment', 'users', 'user-service'), 4);
  });

  test('the same alert again sends nothing and acts nowhere (dedupe, idempotent)', async () => {
    const writesBefore = kube.writes.length;
    const response = await relay.post(
      CRITICAL,
      payload('relay-critical', [restart('user-service-1', 'node-a')]),
    );
    assert.equal(response.status, 200);
    const body = (await response.json()) as {
      remediations: { result: string }[];
      delivery: Record<string, { outcome: string }>;
    };
    assert.equal(body.delivery.wechat?.outcome, 'nothing-new');
    assert.equal(body.remediations[0]?.result, 'duplicate');
    assert.equal(wechat.messages.length, 1);
    assert.equal(sms.messages.length, 1);
    assert.equal(kube.writes.length, writesBefore);
  });

  test('a warning reaches WeChat only, even on a receiver that asks for SMS', async () => {
    const warning = alert({
      alertname: 'UserServiceSlowRequests',
      severity: 'warning',
      service: 'user-service',
    });
    assert.equal((await relay.post(WARNING, payload('relay-wechat', [warning]))).status, 200);
    const other = alert({ alertname: 'UserServiceNotReady', severity: 'warning', service: 'user-service' });
    assert.equal((await relay.post(CRITICAL, payload('relay-critical', [other]))).status, 200);
    assert.equal(wechat.messages.length, 3);
    assert.match(wechat.messages[1]?.content ?? '', /UserServiceSlowRequests/);
    assert.equal(sms.messages.length, 1);
  });

  test('a second failing pod on the node cordons it once; the Deployment is in cooldown', async () => {
    const response = await relay.post(
      CRITICAL,
      payload('relay-critical', [restart('user-service-2', 'node-a')]),
    );
    const body = (await response.json()) as { remediations: { action: string; result: string }[] };
    assert.deepEqual(
      body.remediations.map((r) => `${r.action}:${r.result}`),
      ['scale_up:cooldown', 'cordon:success'],
    );
    const cordon = kube.writes.find((r) => r.path === '/api/v1/nodes/node-a');
    assert.ok(cordon);
    assert.equal(cordon.method, 'PATCH');
    assert.equal(cordon.headers['content-type'], 'application/merge-patch+json');
    assert.deepEqual(JSON.parse(cordon.body), { spec: { unschedulable: true } });
    assert.ok(
      kube.http.requests.some((r) => r.method === 'GET' && r.path === '/api/v1/nodes'),
      'nodes listed first',
    );

    const third = await relay.post(
      CRITICAL,
      payload('relay-critical', [restart('user-service-3', 'node-a')]),
    );
    const thirdBody = (await third.json()) as { remediations: { action: string; result: string }[] };
    assert.deepEqual(
      thirdBody.remediations.map((r) => `${r.action}:${r.result}`),
      ['scale_up:cooldown', 'cordon:duplicate'],
    );
    assert.equal(kube.writes.filter((r) => r.path.startsWith('/api/v1/nodes/')).length, 1);
    assert.equal(kube.writes.filter((r) => r.path.endsWith('/scale')).length, 1);
  });

  test('a pod of an Argo Rollout scales the Rollout through its scale subresource', async () => {
    await relay.post(CRITICAL, payload('relay-critical', [restart('canary-1', 'node-b')]));
    const patch = kube.writes.find(
      (r) => r.path === '/apis/argoproj.io/v1alpha1/namespaces/users/rollouts/user-service-canary/scale',
    );
    assert.ok(patch);
    assert.equal(kube.replicas('Rollout', 'users', 'user-service-canary'), 2);
  });

  test('resolved notices reach both channels and feed MTTR', async () => {
    const resolved = restart('user-service-1', 'node-a', {
      status: 'resolved',
      endsAt: '2026-11-27T10:04:00Z',
    });
    const response = await relay.post(CRITICAL, payload('relay-critical', [resolved]));
    assert.equal(response.status, 200);
    assert.match(
      wechat.messages.at(-1)?.content ?? '',
      /RESOLVED: PodRestartingTooOften[\s\S]*resolved after: 4 min/,
    );
    assert.equal(sms.messages.at(-1)?.params[0], 'RESOLVED');
    const body = (await response.json()) as { mttr_recorded: number };
    assert.equal(body.mttr_recorded, 1, 'the resolved notice had the API confirm the Deployment healthy');
    // Alertmanager repeats resolved notices; they count once.
    const again = (await (await relay.post(CRITICAL, payload('relay-critical', [resolved]))).json()) as {
      mttr_recorded: number;
    };
    assert.equal(again.mttr_recorded, 0);
    const mttr = (await (await fetch(`${relay.url}/mttr`)).json()) as {
      workloads: Record<string, { incidents: number }>;
      recent: { workload: string; started_at: string; recovered_at: string; seconds: number }[];
    };
    assert.equal(mttr.workloads['Deployment users/user-service']?.incidents, 1);
    const incident = mttr.recent.find((sample) => sample.workload === 'Deployment users/user-service');
    assert.equal(incident?.started_at, '2026-11-27T10:00:00.000Z', 'from the alert startsAt');
    // Repaired when the API said so (now), not at the alert's endsAt (10:04).
    assert.ok(Date.parse(incident?.recovered_at ?? '') > Date.parse('2026-11-27T10:04:00Z'));
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    assert.match(
      metrics,
      /workload_mttr_seconds_count\{[^}]*namespace="users",workload="user-service"[^}]*\} 1/,
    );
    assert.match(metrics, /alert_open_seconds_sum\{[^}]*alertname="PodRestartingTooOften"[^}]*\} 240\b/);
    assert.match(metrics, /remediations_total\{[^}]*action="scale_up",result="success"[^}]*\} \d+/);
    assert.match(metrics, /remediations_total\{[^}]*action="cordon",result="success"[^}]*\} 1/);
  });

  test('WeChat rate-limit answers are retried with backoff; a dead channel answers 503 and its breaker opens', async () => {
    wechat.failNext = { count: 2, errcode: 45009 };
    const before = wechat.http.requests.length;
    const ok = await relay.post(
      WARNING,
      payload('relay-wechat', [alert({ alertname: 'RetryMe', severity: 'warning' })]),
    );
    assert.equal(ok.status, 200);
    assert.equal(wechat.http.requests.length - before, 3);
    assert.match(wechat.messages.at(-1)?.content ?? '', /RetryMe/);

    wechat.failNext = { count: 1_000, httpStatus: 503 };
    const down = await relay.post(
      WARNING,
      payload('relay-wechat', [alert({ alertname: 'DeadChannel', severity: 'warning' })]),
    );
    assert.equal(down.status, 503);
    assert.equal(down.headers.get('content-type'), 'application/problem+json');
    assert.equal(relay.components.dispatcher.breakerState('wechat'), 'open');
    const attempts = wechat.http.requests.length;
    const fast = await relay.post(
      WARNING,
      payload('relay-wechat', [alert({ alertname: 'DeadChannel', severity: 'warning' })]),
    );
    assert.equal(fast.status, 503);
    assert.equal(wechat.http.requests.length, attempts, 'open breaker: the robot is not called');
    wechat.failNext = { count: 0 };
  });

  test('no log line carries the webhook token, the robot key or the SMS secret', () => {
    assert.ok(relay.logs.raw.length > 10);
    for (const secret of [RELAY_TOKEN, wechat.key, sms.credentials.secret, K8S_TOKEN]) {
      const leaked = relay.logs.raw.filter((line) => line.includes(secret));
      assert.deepEqual(leaked, [], `a log line carries ${secret.slice(0, 4)}...`);
    }
  });
});

describe('alert relay start-up', () => {
  test('refuses to start without a webhook token, naming the key', async () => {
    await assert.rejects(
      spawnService({
        entry: 'src/services/alert-relay/main.ts',
        env: { RELAY_WEBHOOK_TOKEN: '' },
        readyTimeoutMs: 15_000,
      }),
      /RELAY_WEBHOOK_TOKEN is required/,
    );
  });

  test('refuses to start with an SMS provider but no credentials', async () => {
    await assert.rejects(
      spawnService({
        entry: 'src/services/alert-relay/main.ts',
        env: { RELAY_WEBHOOK_TOKEN: RELAY_TOKEN, SMS_PROVIDER: 'tencent' },
        readyTimeoutMs: 15_000,
      }),
      /SMS_PHONE_NUMBERS is required when SMS_PROVIDER=tencent/,
    );
  });
});

describe('alert relay with Tencent Cloud SMS', () => {
  const wechat = new WechatRobotDouble('robot-key-2');
  const sms = new SmsGatewayDouble('tencent', { id: 'AKIDtest', secret: 'tencent-secret-key' });
  const kube = new KubernetesApiDouble(K8S_TOKEN);
  let relay: RelayInstance;

  before(async () => {
    await Promise.all([wechat.start(), sms.start(), kube.start()]);
    relay = await startRelay({ ...channelSettings(wechat, sms, kube), REMEDIATION_MODE: 'off' }, K8S_TOKEN);
  });

  after(async () => {
    await relay?.close();
    await Promise.all([wechat.stop(), sms.stop(), kube.stop()]);
  });

  test('a critical alert is sent through Tencent SendSms with a valid TC3 signature; throttling is retried', async () => {
    sms.throttleNext = 1;
    const critical = alert({
      alertname: 'UserServiceHighErrorRatio',
      severity: 'critical',
      service: 'user-service',
    });
    const response = await relay.post(CRITICAL, payload('relay-critical', [critical]));
    assert.equal(response.status, 200);
    assert.deepEqual(sms.refused, []);
    assert.equal(sms.messages.length, 1);
    assert.deepEqual(sms.messages[0]?.phoneNumbers, ['+8613800000000']);
    assert.equal(sms.messages[0]?.params.length, 3);
    assert.equal(kube.http.requests.length, 0, 'remediation off');
  });
});

describe('alert relay guard rails against the Kubernetes double', () => {
  const wechat = new WechatRobotDouble('robot-key-3');
  const sms = new SmsGatewayDouble('aliyun', { id: 'id', secret: 'secret' });

  test('dry-run reads but never writes', async () => {
    const kube = new KubernetesApiDouble(K8S_TOKEN);
    await Promise.all([wechat.start(), sms.start(), kube.start()]);
    try {
      for (const node of ['node-a', 'node-b', 'node-c']) kube.addNode(node);
      kube.addWorkload('Deployment', 'users', 'user-service', 3, [
        { name: 'p1', node: 'node-a' },
        { name: 'p2', node: 'node-a' },
      ]);
      const relay = await startRelay(
        { ...channelSettings(wechat, sms, kube), REMEDIATION_MODE: 'dry-run' },
        K8S_TOKEN,
      );
      try {
        const response = await relay.post(
          CRITICAL,
          payload('relay-critical', [restart('p1', 'node-a'), restart('p2', 'node-a')]),
        );
        const body = (await response.json()) as {
          remediations: { action: string; result: string; detail: string }[];
        };
        assert.deepEqual(
          body.remediations.map((r) => `${r.action}:${r.result}`),
          ['scale_up:dry_run', 'scale_up:cooldown', 'cordon:dry_run'],
        );
        assert.match(body.remediations[0]?.detail ?? '', /would scale: replicas 3 -> 4/);
        assert.ok(kube.http.requests.length > 0);
        assert.deepEqual(kube.writes, []);
        assert.equal(kube.replicas('Deployment', 'users', 'user-service'), 3);
        assert.ok(
          relay.logs.find((line) =>
            String(line.message).startsWith('remediation cordon Node node-a: dry_run'),
          ),
        );
      } finally {
        await relay.close();
      }
    } finally {
      await Promise.all([wechat.stop(), sms.stop(), kube.stop()]);
    }
  });

  test('the cordon quota keeps the last schedulable nodes; the replica cap holds', async () => {
    const kube = new KubernetesApiDouble(K8S_TOKEN);
    await Promise.all([wechat.start(), sms.start(), kube.start()]);
    try {
      kube.addNode('node-a');
      kube.addNode('node-b');
      kube.addWorkload('Deployment', 'users', 'user-service', 5, [
        { name: 'p1', node: 'node-a' },
        { name: 'p2', node: 'node-a' },
      ]);
      const relay = await startRelay(
        {
          ...channelSettings(wechat, sms, kube),
          REMEDIATION_MAX_REPLICAS: '5',
          REMEDIATION_MIN_SCHEDULABLE_NODES: '2',
        },
        K8S_TOKEN,
      );
      try {
        const response = await relay.post(
          CRITICAL,
          payload('relay-critical', [restart('p1', 'node-a'), restart('p2', 'node-a')]),
        );
        const body = (await response.json()) as { remediations: { action: string; result: string }[] };
        assert.deepEqual(
          body.remediations.map((r) => `${r.action}:${r.result}`),
          ['scale_up:at_max', 'scale_up:at_max', 'cordon:quota'],
        );
        assert.deepEqual(kube.writes, []);
      } finally {
        await relay.close();
      }
    } finally {
      await Promise.all([wechat.stop(), sms.stop(), kube.stop()]);
    }
  });
});

describe('alert relay namespace allow-list', () => {
  const wechat = new WechatRobotDouble('robot-key-4');
  const sms = new SmsGatewayDouble('aliyun', { id: 'id', secret: 'secret' });
  const kube = new KubernetesApiDouble(K8S_TOKEN);
  let relay: RelayInstance;

  before(async () => {
    await Promise.all([wechat.start(), sms.start(), kube.start()]);
    for (const node of ['node-a', 'node-b', 'node-c']) kube.addNode(node);
    kube.addWorkload('Deployment', 'kube-system', 'coredns', 2, [
      { name: 'coredns-1', node: 'node-a' },
      { name: 'coredns-2', node: 'node-a' },
    ]);
    kube.addWorkload('Deployment', 'users', 'user-service', 3, [{ name: 'user-service-1', node: 'node-b' }]);
    relay = await startRelay(
      { ...channelSettings(wechat, sms, kube), REMEDIATION_NAMESPACES: 'users' },
      K8S_TOKEN,
    );
  });

  after(async () => {
    await relay?.close();
    await Promise.all([wechat.stop(), sms.stop(), kube.stop()]);
  });

  const inNamespace = (namespace: string, pod: string, node: string) =>
    alert({ alertname: 'PodRestartingTooOften', severity: 'critical', namespace, pod, container: 'c', node });

  test('an alert from a namespace outside the list is notified, logged and counted, never acted on', async () => {
    const response = await relay.post(
      CRITICAL,
      payload('relay-critical', [
        inNamespace('kube-system', 'coredns-1', 'node-a'),
        inNamespace('kube-system', 'coredns-2', 'node-a'),
      ]),
    );
    assert.equal(response.status, 200);
    const body = (await response.json()) as {
      remediations: { action: string; result: string; detail: string }[];
    };
    assert.deepEqual(
      body.remediations.map((r) => `${r.action}:${r.result}`),
      ['scale_up:namespace_not_allowed', 'scale_up:namespace_not_allowed'],
    );
    assert.match(
      body.remediations[0]?.detail ?? '',
      /namespace kube-system is not in REMEDIATION_NAMESPACES \(users\)/,
    );
    assert.equal(kube.http.requests.length, 0, 'not even a read in a namespace the relay may not act in');
    assert.equal(
      kube.nodes.get('node-a')?.spec.unschedulable,
      undefined,
      'its pods do not count towards a cordon',
    );
    assert.equal(wechat.messages.length, 1, 'still notified');
    assert.equal(sms.messages.length, 1);
    const line = relay.logs.find((entry) =>
      String(entry.message).startsWith(
        'remediation scale_up Pod kube-system/coredns-1: namespace_not_allowed',
      ),
    );
    assert.equal(line?.level, 'WARN');
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    assert.match(
      metrics,
      /remediations_total\{[^}]*action="scale_up",result="namespace_not_allowed"[^}]*\} [2-9]/,
    );
  });

  test('an alert from an allowed namespace is acted on', async () => {
    const response = await relay.post(
      CRITICAL,
      payload('relay-critical', [inNamespace('users', 'user-service-1', 'node-b')]),
    );
    const body = (await response.json()) as { remediations: { result: string }[] };
    assert.deepEqual(
      body.remediations.map((r) => r.result),
      ['success'],
    );
    assert.equal(kube.replicas('Deployment', 'users', 'user-service'), 4);
  });
});
