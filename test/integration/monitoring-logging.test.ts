import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Namespace, ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { createLogger } from '../../src/platform/logging/logger.ts';
import { LogCapture } from '../support/log-capture.ts';
import { needs } from '../support/requirements.ts';

const run = promisify(execFile);
const LOGGING = 'deploy/logging';
/** Where the DaemonSet keeps the tail DB and the filesystem buffer (a hostPath, so it outlives the pod). */
const STATE_DIR = '/var/fluent-bit/state';

type Section = { name: string; keys: Map<string, string> };

/** Fluent Bit's classic format: `[SECTION]` headers, then `Key value` lines; `#` starts a comment line. */
function parseFluentBitConfig(text: string): Section[] {
  const sections: Section[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[([A-Z_]+)\]$/.exec(line);
    if (header) {
      sections.push({ name: header[1]!, keys: new Map() });
      continue;
    }
    const entry = /^(\S+)\s+(.+)$/.exec(line);
    assert.ok(entry && sections.length > 0, `not a key/value line: ${raw}`);
    sections.at(-1)!.keys.set(entry[1]!.toLowerCase(), entry[2]!.trim());
  }
  return sections;
}

const config = parseFluentBitConfig(readFileSync(`${LOGGING}/fluent-bit.conf`, 'utf8'));
const parsers = parseFluentBitConfig(readFileSync(`${LOGGING}/parsers.conf`, 'utf8'));
const section = (name: string, plugin: string) =>
  config.find((candidate) => candidate.name === name && candidate.keys.get('name') === plugin);

/**
 * strptime as Fluent Bit applies it, for the conversions our format uses: returns the epoch ms of `value`, or
 * undefined when it does not match. `%LZ` after seconds means fractional seconds in UTC.
 */
function strptime(format: string, value: string): number | undefined {
  const fields: string[] = [];
  const pattern = format.replace(/%([YmdHMSL])|([^%]+)/g, (_match, conversion: string, literal: string) => {
    if (literal) return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    fields.push(conversion);
    return conversion === 'Y' ? '(\\d{4})' : conversion === 'L' ? '(\\d{1,9})' : '(\\d{2})';
  });
  const match = new RegExp(`^${pattern}$`).exec(value);
  if (!match) return undefined;
  const get = (conversion: string) => match[fields.indexOf(conversion) + 1] ?? '0';
  const fraction = Number(`0.${get('L')}`);
  return (
    Date.UTC(+get('Y'), +get('m') - 1, +get('d'), +get('H'), +get('M'), +get('S')) +
    Math.round(fraction * 1000)
  );
}

describe('Fluent Bit configuration', () => {
  test('tails every container log and keeps its read positions', () => {
    const tail = section('INPUT', 'tail');
    assert.ok(tail, 'no tail input');
    assert.equal(tail.keys.get('path'), '/var/log/containers/*.log');
    assert.match(tail.keys.get('multiline.parser') ?? '', /cri/);
    assert.match(tail.keys.get('db') ?? '', /^\/var\/fluent-bit\/state\//);
    assert.equal(tail.keys.get('tag'), 'kube.*');
  });

  test('a replaced pod neither loses nor doubles lines: offsets, buffer and ids survive it', () => {
    const tail = section('INPUT', 'tail')!;
    const service = config.find((candidate) => candidate.name === 'SERVICE')!;
    const output = config.find((candidate) => candidate.name === 'OUTPUT')!;
    assert.equal(tail.keys.get('db.locking'), 'true', 'one process per node writes the offsets');
    assert.equal(tail.keys.get('read_from_head')?.toLowerCase(), 'on', 'a file not in the DB is read whole');
    assert.equal(tail.keys.get('storage.type'), 'filesystem', 'undelivered chunks are kept on disk');
    assert.match(service.keys.get('storage.path') ?? '', new RegExp(`^${STATE_DIR}/`));
    assert.match(tail.keys.get('db') ?? '', new RegExp(`^${STATE_DIR}/`));
    assert.equal(output.keys.get('generate_id')?.toLowerCase(), 'on', 'a re-sent record must overwrite');
  });

  test('adds Kubernetes metadata, then parses the log field with our JSON parser', () => {
    const filters = config.filter((candidate) => candidate.name === 'FILTER').map((f) => f.keys.get('name'));
    assert.deepEqual(filters, ['kubernetes', 'parser']);
    const kubernetes = section('FILTER', 'kubernetes')!;
    assert.equal(kubernetes.keys.get('kube_tag_prefix'), 'kube.var.log.containers.');
    const parser = section('FILTER', 'parser')!;
    assert.equal(parser.keys.get('key_name'), 'log');
    assert.equal(parser.keys.get('reserve_data'), 'On');
    const parserName = parser.keys.get('parser');
    assert.ok(
      parsers.some((candidate) => candidate.keys.get('name') === parserName),
      `${parserName} undefined`,
    );
  });

  test('keeps trace_id: nothing removes or allow-lists fields', () => {
    for (const filter of config.filter((candidate) => candidate.name === 'FILTER')) {
      for (const key of filter.keys.keys()) {
        assert.doesNotMatch(key, /^(remove|allowlist_key|whitelist_key|blacklist_key|exclude)$/, key);
      }
    }
  });

  test('ships to Elasticsearch with the event time, dots in label keys replaced', () => {
    const es = section('OUTPUT', 'es');
    assert.ok(es, 'no es output');
    assert.equal(es.keys.get('match'), 'kube.*');
    assert.match(es.keys.get('host') ?? '', /^\$\{ELASTICSEARCH_HOST\}$/);
    assert.equal(es.keys.get('replace_dots'), 'On');
    assert.equal(es.keys.get('logstash_format'), 'On');
  });

  test("the JSON parser's time format reads our real log timestamps exactly", () => {
    const parser = parsers.find((candidate) => candidate.keys.get('name') === 'service_json')!;
    assert.equal(parser.keys.get('format'), 'json');
    assert.equal(parser.keys.get('time_key'), 'timestamp');
    assert.equal(parser.keys.get('time_keep'), 'On');
    const capture = new LogCapture();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const { logger } = createLogger({
      service: 'user-service',
      version: '1.2.3',
      level: 'info',
      destination: capture,
      mixin: () => ({ trace_id: traceId }),
    });
    const before = Date.now();
    logger.warn({ slow: true }, 'request completed');
    const after = Date.now();
    const line = capture.lines[0]!;
    for (const field of ['timestamp', 'level', 'service', 'version', 'message', 'trace_id']) {
      assert.ok(field in line, `log line has no ${field}: ${capture.raw[0]}`);
    }
    assert.equal(line.trace_id, traceId);
    const parsed = strptime(parser.keys.get('time_format')!, line.timestamp);
    assert.ok(parsed !== undefined, `${parser.keys.get('time_format')} does not match ${line.timestamp}`);
    assert.equal(parsed, Date.parse(line.timestamp));
    assert.ok(parsed >= before - 1 && parsed <= after + 1);
  });
});

describe('Fluent Bit Kubernetes objects', { skip: needs('kubectl') }, () => {
  test('kustomize renders valid objects that fit together', async () => {
    const { stdout } = await run('kubectl', ['kustomize', LOGGING]);
    // biome-ignore lint/suspicious/noExplicitAny: objects of several kinds, each checked by its model below
    const objects = parseAllDocuments(stdout).map((document) => document.toJSON() as any);
    const byKind = Object.fromEntries(objects.map((object) => [object.kind, object]));
    assert.deepEqual(Object.keys(byKind).sort(), [
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'DaemonSet',
      'Namespace',
      'ServiceAccount',
    ]);
    new Namespace(byKind.Namespace).validate();
    new ServiceAccount(byKind.ServiceAccount).validate();
    new ClusterRole(byKind.ClusterRole).validate();
    new ClusterRoleBinding(byKind.ClusterRoleBinding).validate();
    new ConfigMap(byKind.ConfigMap).validate();
    new DaemonSet(byKind.DaemonSet).validate();

    const daemonSet = byKind.DaemonSet;
    const pod = daemonSet.spec.template.spec;
    assert.equal(daemonSet.metadata.namespace, 'logging');
    assert.equal(pod.serviceAccountName, byKind.ServiceAccount.metadata.name);
    const subject = byKind.ClusterRoleBinding.subjects[0];
    assert.deepEqual([subject.name, subject.namespace], [byKind.ServiceAccount.metadata.name, 'logging']);
    assert.equal(byKind.ClusterRoleBinding.roleRef.name, byKind.ClusterRole.metadata.name);

    const configVolume = pod.volumes.find((volume: { name: string }) => volume.name === 'config');
    assert.equal(configVolume.configMap.name, byKind.ConfigMap.metadata.name);
    assert.deepEqual(Object.keys(byKind.ConfigMap.data).sort(), ['fluent-bit.conf', 'parsers.conf']);
    const mounts = pod.containers[0].volumeMounts as {
      name: string;
      mountPath: string;
      readOnly?: boolean;
    }[];
    const configMount = mounts.find((mount) => mount.name === 'config')!;
    const service = config.find((candidate) => candidate.name === 'SERVICE')!;
    assert.equal(service.keys.get('parsers_file'), `${configMount.mountPath}parsers.conf`);
    assert.ok(pod.containers[0].args.includes(`--config=${configMount.mountPath}fluent-bit.conf`));
    // Tail offsets and the filesystem buffer on the node, where the next pod finds them.
    const stateMount = mounts.find((mount) => mount.mountPath === STATE_DIR);
    assert.ok(stateMount, `nothing mounted at ${STATE_DIR}`);
    const stateVolume = pod.volumes.find((volume: { name: string }) => volume.name === stateMount.name);
    assert.equal(stateVolume.emptyDir, undefined, 'an emptyDir dies with the pod');
    assert.match(stateVolume.hostPath?.path ?? '', /^\/var\/lib\/fluent-bit/);
    assert.equal(stateVolume.hostPath.type, 'Directory');
    assert.notEqual(stateMount.readOnly, true);
    assert.equal(daemonSet.spec.updateStrategy.rollingUpdate.maxSurge, 0, 'two pods would share the tail DB');
    const varlog = mounts.find((mount) => mount.name === 'varlog')!;
    assert.equal(varlog.mountPath, '/var/log');
    assert.equal(varlog.readOnly, true);
    assert.ok(
      pod.tolerations.some((toleration: { operator: string }) => toleration.operator === 'Exists'),
      'must run on tainted nodes too',
    );
    const env = pod.containers[0].env.map((variable: { name: string }) => variable.name);
    for (const name of readFileSync(`${LOGGING}/fluent-bit.conf`, 'utf8').matchAll(/\$\{(\w+)\}/g)) {
      assert.ok(env.includes(name[1]), `${name[1]} is used by the config but not set on the container`);
    }
  });
});
