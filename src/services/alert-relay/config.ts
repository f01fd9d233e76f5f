import { Type } from 'typebox';
import { liveConfigProperties } from '../../platform/config/live-config-schema.ts';
import { platformConfigProperties } from '../../platform/config/platform-config-schema.ts';
import { tracingConfigProperties } from '../../platform/tracing/tracing-config.ts';

/** What the relay does when an alert asks for healing: nothing, say what it would do, or do it. */
export const REMEDIATION_MODES = ['off', 'dry-run', 'on'] as const;
export const SMS_PROVIDERS = ['none', 'aliyun', 'tencent'] as const;

const notifyPolicyProperties = {
  NOTIFY_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 8_000,
    description:
      'Bound on delivering one notification to one channel, retries included (Alertmanager waits for the answer).',
  }),
  NOTIFY_ATTEMPT_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 3_000,
    description: 'Bound on one call to WeChat Work or the SMS gateway.',
  }),
  NOTIFY_RETRIES: Type.Integer({
    minimum: 0,
    maximum: 10,
    default: 3,
    description: 'Retries after a retryable failure (connection error, 429/5xx, rate-limit error codes).',
  }),
  NOTIFY_RETRY_INITIAL_DELAY_MS: Type.Integer({
    minimum: 1,
    default: 200,
    description: 'First retry delay; grows exponentially with jitter.',
  }),
  NOTIFY_RETRY_MAX_DELAY_MS: Type.Integer({
    minimum: 1,
    default: 2_000,
    description: 'Largest retry delay.',
  }),
  NOTIFY_BREAKER_THRESHOLD: Type.Integer({
    minimum: 1,
    default: 5,
    description: 'Consecutive failed calls that open a channel’s circuit breaker (one breaker per channel).',
  }),
  NOTIFY_BREAKER_HALF_OPEN_AFTER_MS: Type.Integer({
    minimum: 100,
    default: 30_000,
    description: 'How long an open channel breaker waits before one trial call.',
  }),
  NOTIFY_DEDUPE_TTL_S: Type.Integer({
    minimum: 1,
    default: 3_600,
    description:
      'A notification for the same alert (fingerprint, start) and status is sent once per channel within this time; Alertmanager’s repeats inside it are dropped.',
  }),
};

const channelProperties = {
  WECHAT_WEBHOOK_URL: Type.String({
    pattern: '^https?://',
    default: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send',
    description: 'WeChat Work group robot endpoint; the robot key is added as `?key=`.',
  }),
  WECHAT_WEBHOOK_KEY: Type.Optional(
    Type.String({
      minLength: 1,
      secret: true,
      description:
        'WeChat Work group robot key (or WECHAT_WEBHOOK_KEY_FILE); unset turns the WeChat channel off.',
    }),
  ),
  SMS_PROVIDER: Type.Enum(SMS_PROVIDERS, {
    default: 'none',
    description:
      'SMS gateway for critical alerts: `aliyun` (dysmsapi SendSms), `tencent` (SMS SendSms) or `none`.',
  }),
  SMS_PHONE_NUMBERS: Type.String({
    default: '',
    description:
      'Comma-separated on-call numbers, in the provider’s format (Tencent wants E.164, `+8613800000000`).',
  }),
  SMS_SIGN_NAME: Type.String({ default: '', description: 'Approved SMS signature name.' }),
  SMS_TEMPLATE_ID: Type.String({
    default: '',
    description:
      'Approved template (Aliyun TemplateCode, Tencent TemplateId) with three variables: status, alert, summary (Aliyun variables named status, alert and summary; Tencent {1} {2} {3}).',
  }),
  SMS_PARAM_MAX_CHARS: Type.Integer({
    minimum: 4,
    default: 20,
    description: 'Template variables are cut to this many characters (gateways cap variable length).',
  }),
  ALIYUN_SMS_ENDPOINT: Type.String({
    pattern: '^https?://',
    default: 'https://dysmsapi.aliyuncs.com',
    description: 'Aliyun SMS API endpoint.',
  }),
  ALIYUN_SMS_REGION: Type.String({ default: 'cn-hangzhou', description: 'Aliyun RegionId.' }),
  ALIYUN_ACCESS_KEY_ID: Type.String({ default: '', description: 'Aliyun AccessKey ID.' }),
  ALIYUN_ACCESS_KEY_SECRET: Type.Optional(
    Type.String({ secret: true, description: 'Aliyun AccessKey secret (or ALIYUN_ACCESS_KEY_SECRET_FILE).' }),
  ),
  TENCENT_SMS_ENDPOINT: Type.String({
    pattern: '^https?://',
    default: 'https://sms.tencentcloudapi.com',
    description: 'Tencent Cloud SMS API endpoint.',
  }),
  TENCENT_SMS_REGION: Type.String({
    default: 'ap-guangzhou',
    description: 'Tencent Cloud region (X-TC-Region).',
  }),
  TENCENT_SMS_SDK_APP_ID: Type.String({ default: '', description: 'Tencent SMS SdkAppId.' }),
  TENCENT_SECRET_ID: Type.String({ default: '', description: 'Tencent Cloud SecretId.' }),
  TENCENT_SECRET_KEY: Type.Optional(
    Type.String({ secret: true, description: 'Tencent Cloud SecretKey (or TENCENT_SECRET_KEY_FILE).' }),
  ),
};

/** Remediation settings are read per alert, so all of them are reloadable (dry-run can be switched on live). */
const remediationProperties = {
  REMEDIATION_MODE: Type.Enum(REMEDIATION_MODES, {
    default: 'dry-run',
    reloadable: true,
    description:
      '`on` acts, `dry-run` reads the cluster and logs and counts what it would do without writing, `off` does nothing. The default is `dry-run` so a relay started without its manifest never writes; the shipped manifest sets `on` with REMEDIATION_NAMESPACES. Reloadable.',
  }),
  REMEDIATION_ALERTNAME: Type.String({
    minLength: 1,
    default: 'PodRestartingTooOften',
    reloadable: true,
    description:
      'The alert that triggers scale-up (and cordon, when its pods concentrate on one node). Reloadable.',
  }),
  REMEDIATION_NAMESPACES: Type.String({
    default: '',
    pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(,[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$',
    reloadable: true,
    description:
      'Comma-separated namespaces the relay may act in (its RBAC Roles exist only there); alerts from any other namespace are notified but never acted on. Empty acts nowhere. Reloadable.',
  }),
  REMEDIATION_MAX_REPLICAS: Type.Integer({
    minimum: 1,
    default: 10,
    reloadable: true,
    description: 'Never scale a Deployment or Rollout above this many replicas. Reloadable.',
  }),
  REMEDIATION_SCALE_COOLDOWN_S: Type.Integer({
    minimum: 0,
    default: 900,
    reloadable: true,
    description:
      'After scaling a workload, leave it alone this long; a raised HPA floor (minReplicas) goes back when it ends. Reloadable.',
  }),
  REMEDIATION_WRITE_RETRIES: Type.Integer({
    minimum: 0,
    maximum: 5,
    default: 3,
    reloadable: true,
    description:
      'Retries of a failed remediation write (connection error, 409 conflict, 429, 5xx), each on a fresh read. Reloadable.',
  }),
  REMEDIATION_RETRY_INITIAL_DELAY_MS: Type.Integer({
    minimum: 1,
    default: 200,
    reloadable: true,
    description:
      'First delay before retrying a remediation write; grows exponentially with jitter. Reloadable.',
  }),
  REMEDIATION_RETRY_MAX_DELAY_MS: Type.Integer({
    minimum: 1,
    maximum: 10_000,
    default: 2_000,
    reloadable: true,
    description: 'Largest delay between remediation write attempts. Reloadable.',
  }),
  REMEDIATION_RESTORE_CHECK_S: Type.Integer({
    minimum: 1,
    default: 30,
    description: 'How often raised HPA floors whose cooldown is over are put back.',
  }),
  REMEDIATION_MAX_ACTIONS_PER_HOUR: Type.Integer({
    minimum: 0,
    default: 6,
    reloadable: true,
    description:
      'Budget of write actions (scale-ups and cordons, dry-run ones included) in any sliding hour. Reloadable.',
  }),
  REMEDIATION_CORDON_POD_THRESHOLD: Type.Integer({
    minimum: 1,
    default: 2,
    reloadable: true,
    description: 'Cordon a node once this many distinct pods on it are firing the restart alert. Reloadable.',
  }),
  REMEDIATION_MIN_SCHEDULABLE_NODES: Type.Integer({
    minimum: 1,
    default: 2,
    reloadable: true,
    description: 'Never cordon if fewer than this many schedulable nodes would remain. Reloadable.',
  }),
  REMEDIATION_MAX_CORDONED_NODES: Type.Integer({
    minimum: 0,
    default: 1,
    reloadable: true,
    description: 'Never cordon while this many nodes are already unschedulable. Reloadable.',
  }),
  REMEDIATION_FAILING_POD_TTL_S: Type.Integer({
    minimum: 1,
    default: 1_800,
    reloadable: true,
    description:
      'A firing restart alert counts towards its node’s concentration this long unless it resolves first. Reloadable.',
  }),
  KUBERNETES_API_URL: Type.Optional(
    Type.String({
      pattern: '^https?://',
      description:
        'Kubernetes API server; defaults to the in-cluster https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT. Its CA comes from NODE_EXTRA_CA_CERTS.',
    }),
  ),
  KUBERNETES_TOKEN_PATH: Type.String({
    default: '/var/run/secrets/kubernetes.io/serviceaccount/token',
    description: 'Service-account token for the API server; re-read every minute because it rotates.',
  }),
  KUBERNETES_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 3_000,
    description: 'Bound on each call to the Kubernetes API.',
  }),
};

export const relayConfigSchema = Type.Object({
  ...platformConfigProperties,
  ...liveConfigProperties,
  ...tracingConfigProperties,
  SERVICE_NAME: Type.String({
    minLength: 1,
    default: 'alert-relay',
    description: 'Service name in logs and metrics.',
  }),
  RELAY_WEBHOOK_TOKEN: Type.Optional(
    Type.String({
      minLength: 16,
      secret: true,
      description:
        'Bearer token Alertmanager presents on POST /webhook (or RELAY_WEBHOOK_TOKEN_FILE); required, at least 16 characters.',
    }),
  ),
  MTTR_SAMPLES_KEPT: Type.Integer({
    minimum: 10,
    default: 1_000,
    description: 'Repaired incidents kept for the GET /mttr percentiles.',
  }),
  MTTR_POLL_INTERVAL_MS: Type.Integer({
    minimum: 50,
    default: 5_000,
    description:
      'While an incident is open, how often the workload is looked at (Deployment or Rollout status, its pods’ restart counts).',
  }),
  MTTR_STABLE_S: Type.Integer({
    minimum: 0,
    default: 120,
    description:
      'A workload counts as repaired once all its replicas are ready and none of its containers restarted for this long; the repair time is the start of that stretch.',
  }),
  MTTR_WATCH_MAX_S: Type.Integer({
    minimum: 1,
    default: 21_600,
    description: 'Stop watching an incident after this long and count it unrecovered.',
  }),
  MTTR_WINDOW_S: Type.Integer({
    minimum: 60,
    default: 604_800,
    description:
      'The P50/P90 of GET /mttr and workload_mttr_window_seconds cover incidents repaired within this window.',
  }),
  ...notifyPolicyProperties,
  ...channelProperties,
  ...remediationProperties,
});
