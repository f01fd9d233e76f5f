import { runService } from '../../platform/service/run-service.ts';
import type { ServiceStart } from '../../platform/service/start-service.ts';
import { buildRelayApp } from './app.ts';
import { relayConfigSchema } from './config.ts';
import { createRelayComponents } from './relay-components.ts';

/** In a pod the API server is announced by the kubelet's service environment variables. */
function inClusterApiUrl(): string {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) return 'https://kubernetes.default.svc';
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The relay's composition root: the only module with side effects. Everything it opens goes to the lifecycle. */
export function runRelayService(start: ServiceStart): Promise<void> {
  return runService(
    start,
    relayConfigSchema,
    async ({ logger, configStore, config, health, metrics, tracing, lifecycle }) => {
      // Restart-only keys are read from the snapshot; the remediation settings through configStore.values.
      const components = createRelayComponents({
        config,
        current: () => configStore.values,
        kubernetesUrl: config.KUBERNETES_API_URL ?? inClusterApiUrl(),
        logger,
        metrics,
      });
      const restoreTimer = setInterval(() => {
        void components.remediator.restoreFloors();
      }, config.REMEDIATION_RESTORE_CHECK_S * 1000);
      restoreTimer.unref();
      lifecycle.onShutdown('HPA floor restore', () => clearInterval(restoreTimer));
      lifecycle.onShutdown('MTTR watch', () => components.mttr.close());
      if (config.REMEDIATION_MODE === 'dry-run')
        logger.warn('remediation is in dry-run mode: actions are logged, not done');
      if (config.REMEDIATION_MODE !== 'off' && config.REMEDIATION_NAMESPACES === '')
        logger.warn('REMEDIATION_NAMESPACES is empty: remediation acts in no namespace');
      const app = await buildRelayApp({
        logger,
        health,
        ...components,
        metrics,
        canary: () => configStore.values.CANARY,
        requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
        ...(tracing ? { tracing: tracing.http } : {}),
      });
      return {
        app,
        ready: {
          remediation_mode: config.REMEDIATION_MODE,
          remediation_namespaces: config.REMEDIATION_NAMESPACES,
          sms_provider: config.SMS_PROVIDER,
          wechat: config.WECHAT_WEBHOOK_KEY !== undefined,
          tracing: tracing ? 'on' : 'off',
        },
      };
    },
  );
}
