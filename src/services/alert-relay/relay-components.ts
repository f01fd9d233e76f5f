import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Static } from 'typebox';
import { ConfigError } from '../../platform/config/config-error.ts';
import type { relayConfigSchema } from './config.ts';
import { ExpiringSet } from './expiring-set.ts';
import { MttrTracker } from './mttr.ts';
import { NotificationDispatcher } from './notification-dispatcher.ts';
import { AliyunSmsNotifier } from './notifiers/aliyun-sms.ts';
import type { Notifier } from './notifiers/notifier.ts';
import { TencentSmsNotifier } from './notifiers/tencent-sms.ts';
import { WechatWorkNotifier } from './notifiers/wechat-work.ts';
import { KubernetesApi } from './remediation/kubernetes-api.ts';
import { type RemediationSettings, Remediator } from './remediation/remediator.ts';

export type RelayConfig = Static<typeof relayConfigSchema>;

export function remediationSettings(config: RelayConfig): RemediationSettings {
  return {
    mode: config.REMEDIATION_MODE,
    alertName: config.REMEDIATION_ALERTNAME,
    allowedNamespaces: config.REMEDIATION_NAMESPACES.split(',').filter(Boolean),
    maxReplicas: config.REMEDIATION_MAX_REPLICAS,
    scaleCooldownMs: config.REMEDIATION_SCALE_COOLDOWN_S * 1000,
    maxActionsPerHour: config.REMEDIATION_MAX_ACTIONS_PER_HOUR,
    cordonPodThreshold: config.REMEDIATION_CORDON_POD_THRESHOLD,
    minSchedulableNodes: config.REMEDIATION_MIN_SCHEDULABLE_NODES,
    maxCordonedNodes: config.REMEDIATION_MAX_CORDONED_NODES,
    failingPodTtlMs: config.REMEDIATION_FAILING_POD_TTL_S * 1000,
    writeRetries: config.REMEDIATION_WRITE_RETRIES,
    retryInitialDelayMs: config.REMEDIATION_RETRY_INITIAL_DELAY_MS,
    retryMaxDelayMs: Math.max(
      config.REMEDIATION_RETRY_MAX_DELAY_MS,
      config.REMEDIATION_RETRY_INITIAL_DELAY_MS,
    ),
  };
}

function required(config: RelayConfig, key: keyof RelayConfig, why: string): string {
  const value = config[key];
  if (typeof value !== 'string' || value === '') {
    throw new ConfigError(key, `Missing configuration: ${key} is required when ${why}`);
  }
  return value;
}

/** The notification channels the configuration turns on (none is an allowed, if quiet, setup). */
export function notifiersFrom(config: RelayConfig): Notifier[] {
  const notifiers: Notifier[] = [];
  if (config.WECHAT_WEBHOOK_KEY) {
    notifiers.push(
      new WechatWorkNotifier({ url: config.WECHAT_WEBHOOK_URL, key: config.WECHAT_WEBHOOK_KEY }),
    );
  }
  if (config.SMS_PROVIDER === 'none') return notifiers;
  const why = `SMS_PROVIDER=${config.SMS_PROVIDER}`;
  const phoneNumbers = required(config, 'SMS_PHONE_NUMBERS', why)
    .split(',')
    .map((number) => number.trim())
    .filter(Boolean);
  const common = {
    phoneNumbers,
    signName: required(config, 'SMS_SIGN_NAME', why),
    paramMaxChars: config.SMS_PARAM_MAX_CHARS,
  };
  if (config.SMS_PROVIDER === 'aliyun') {
    notifiers.push(
      new AliyunSmsNotifier({
        ...common,
        endpoint: config.ALIYUN_SMS_ENDPOINT,
        regionId: config.ALIYUN_SMS_REGION,
        accessKeyId: required(config, 'ALIYUN_ACCESS_KEY_ID', why),
        accessKeySecret: required(config, 'ALIYUN_ACCESS_KEY_SECRET', why),
        templateCode: required(config, 'SMS_TEMPLATE_ID', why),
      }),
    );
  } else {
    notifiers.push(
      new TencentSmsNotifier({
        ...common,
        endpoint: config.TENCENT_SMS_ENDPOINT,
        region: config.TENCENT_SMS_REGION,
        secretId: required(config, 'TENCENT_SECRET_ID', why),
        secretKey: required(config, 'TENCENT_SECRET_KEY', why),
        sdkAppId: required(config, 'TENCENT_SMS_SDK_APP_ID', why),
        templateId: required(config, 'SMS_TEMPLATE_ID', why),
      }),
    );
  }
  return notifiers;
}

export interface RelayComponents {
  dispatcher: NotificationDispatcher;
  remediator: Remediator;
  mttr: MttrTracker;
  webhookToken: string;
}

/**
 * Everything the relay's routes need, built from its configuration. `current` is read per alert, so reloaded
 * remediation settings apply at once; `kubernetesUrl` is the resolved API server address.
 */
export function createRelayComponents(options: {
  config: RelayConfig;
  current: () => RelayConfig;
  kubernetesUrl: string;
  logger: Logger;
  /** The relay's registry: notifications, breakers, remediations and MTTR are reported in it. */
  metrics: Registry;
}): RelayComponents {
  const { config, logger, metrics } = options;
  const webhookToken = required(
    config,
    'RELAY_WEBHOOK_TOKEN',
    'the relay starts (Alertmanager authenticates with it)',
  );
  const dispatcher = new NotificationDispatcher({
    notifiers: notifiersFrom(config),
    delivered: new ExpiringSet({ ttlMs: () => options.current().NOTIFY_DEDUPE_TTL_S * 1000 }),
    logger,
    metrics,
    policy: {
      timeoutMs: config.NOTIFY_TIMEOUT_MS,
      attemptTimeoutMs: Math.min(config.NOTIFY_ATTEMPT_TIMEOUT_MS, config.NOTIFY_TIMEOUT_MS),
      retries: config.NOTIFY_RETRIES,
      retryInitialDelayMs: config.NOTIFY_RETRY_INITIAL_DELAY_MS,
      retryMaxDelayMs: config.NOTIFY_RETRY_MAX_DELAY_MS,
      breakerThreshold: config.NOTIFY_BREAKER_THRESHOLD,
      breakerHalfOpenAfterMs: config.NOTIFY_BREAKER_HALF_OPEN_AFTER_MS,
      bulkheadLimit: 4,
      bulkheadQueue: 100,
    },
  });
  const kubernetes = new KubernetesApi({
    baseUrl: options.kubernetesUrl,
    tokenPath: config.KUBERNETES_TOKEN_PATH,
    timeoutMs: config.KUBERNETES_TIMEOUT_MS,
  });
  const mttr = new MttrTracker({
    kubernetes,
    logger,
    metrics,
    settings: {
      pollIntervalMs: config.MTTR_POLL_INTERVAL_MS,
      stableMs: config.MTTR_STABLE_S * 1000,
      watchMaxMs: config.MTTR_WATCH_MAX_S * 1000,
      windowMs: config.MTTR_WINDOW_S * 1000,
      samplesKept: config.MTTR_SAMPLES_KEPT,
    },
  });
  const remediator = new Remediator({
    kubernetes,
    logger,
    metrics,
    settings: () => remediationSettings(options.current()),
    onWorkloadAlert: (workload, alert) => mttr.open(workload, alert),
  });
  return { dispatcher, remediator, mttr, webhookToken };
}
