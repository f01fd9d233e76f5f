import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { type K8sObject, podSpecOf } from '../../deploy/ci/kustomize.ts';
import { tracingConfigProperties } from '../../src/platform/tracing/tracing-config.ts';
import { findObject, renderOverlay } from '../support/kubernetes-manifests.ts';
import { validateAgainstModel } from '../support/kubernetes-models.ts';
import { needs } from '../support/requirements.ts';

const skip = needs('kubectl');
/** Share of new traces each environment records from their start (errors and slow requests are always kept). */
const SAMPLING: Record<string, string> = { dev: '1', staging: '0.01', prod: '0.01' };

interface CollectorConfig {
  receivers: { otlp?: { protocols?: { http?: { endpoint?: string } } } };
  processors: Record<string, unknown>;
  exporters: Record<string, { endpoint?: string }>;
  service: { extensions?: string[]; pipelines: Record<string, { receivers: string[]; exporters: string[] }> };
}

function collectorConfig(objects: K8sObject[], deployment: K8sObject): CollectorConfig {
  const spec = podSpecOf(deployment);
  const configVolume = spec.volumes.find((volume: { configMap?: unknown }) => volume.configMap);
  assert.ok(configVolume, 'the Collector mounts no ConfigMap');
  const configMap = findObject(objects, 'ConfigMap', configVolume.configMap.name);
  const mount = spec.containers[0].volumeMounts.find((m: { name: string }) => m.name === configVolume.name);
  const [, path] = /--config=(.+)$/.exec(spec.containers[0].args.join(' ')) ?? [];
  assert.ok(path?.startsWith(`${mount.mountPath}/`), `--config ${path} is not in the mounted ConfigMap`);
  const text = configMap.data[path!.slice(mount.mountPath.length + 1)];
  assert.ok(text, `ConfigMap ${configMap.metadata.name} has no ${path}`);
  return parse(text) as CollectorConfig;
}

describe('tracing in every environment (OpenTelemetry Collector)', { skip }, () => {
  for (const environment of Object.keys(SAMPLING)) {
    describe(environment, () => {
      it('the Collector Deployment, Service, ConfigMap and NetworkPolicy validate against their schemas', async () => {
        const objects = await renderOverlay(environment);
        const collector = objects.filter(
          (o) =>
            o.metadata.name.startsWith('otel-collector') &&
            ['Deployment', 'Service', 'ConfigMap', 'NetworkPolicy'].includes(o.kind),
        );
        assert.deepEqual(collector.map((o) => o.kind).sort(), [
          'ConfigMap',
          'Deployment',
          'NetworkPolicy',
          'Service',
        ]);
        for (const object of collector) await validateAgainstModel(object);
      });

      it('takes OTLP/HTTP on 4318 and sends traces over OTLP to the Jaeger collector', async () => {
        const objects = await renderOverlay(environment);
        const deployment = findObject(objects, 'Deployment', 'otel-collector');
        const config = collectorConfig(objects, deployment);
        assert.match(config.receivers.otlp?.protocols?.http?.endpoint ?? '', /:4318$/);
        const traces = config.service.pipelines.traces;
        assert.ok(traces, 'no traces pipeline');
        assert.deepEqual(traces.receivers, ['otlp']);
        assert.equal(traces.exporters.length, 1);
        const [exporterName] = traces.exporters;
        assert.match(exporterName!, /^otlp(\/|$)/, 'Jaeger takes OTLP; no legacy Jaeger exporter');
        assert.match(config.exporters[exporterName!]?.endpoint ?? '', /^jaeger-collector\..+:4317$/);
        for (const processor of (traces as { processors?: string[] }).processors ?? [])
          assert.ok(processor in config.processors, `processor ${processor} is not defined`);
        assert.ok(!('tail_sampling' in config.processors), 'the service decides what is kept');
        const containerPorts = podSpecOf(deployment).containers[0].ports as {
          name: string;
          containerPort: number;
        }[];
        assert.ok(containerPorts.some((port) => port.containerPort === 4318));
      });

      it(`the service sends to the Collector's Service and records ${SAMPLING[environment]} of new traces`, async () => {
        const objects = await renderOverlay(environment);
        const config = findObject(
          objects,
          'ConfigMap',
          (
            findObject(objects, 'Deployment', 'user-service').spec.template.spec.containers[0].envFrom[0]
              .configMapRef as { name: string }
          ).name,
        );
        const endpoint = new URL(config.data.OTEL_EXPORTER_OTLP_ENDPOINT);
        const service = findObject(objects, 'Service', 'otel-collector');
        assert.equal(endpoint.hostname.split('.')[0], service.metadata.name);
        assert.ok(
          endpoint.hostname === service.metadata.name ||
            endpoint.hostname.startsWith(`${service.metadata.name}.${service.metadata.namespace}.`),
          'the Collector of the same namespace',
        );
        const port = service.spec.ports.find((p: { port: number }) => p.port === Number(endpoint.port));
        assert.ok(port, `the Service has no port ${endpoint.port}`);
        assert.equal(config.data.OTEL_TRACES_SAMPLER_ARG, SAMPLING[environment]);
        const ratio = tracingConfigProperties.OTEL_TRACES_SAMPLER_ARG as {
          minimum?: number;
          maximum?: number;
        };
        const value = Number(config.data.OTEL_TRACES_SAMPLER_ARG);
        assert.ok(value >= (ratio.minimum ?? 0) && value <= (ratio.maximum ?? 1));
      });
    });
  }
});
