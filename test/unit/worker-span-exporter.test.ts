import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { OtlpJsonBatch } from '../../src/platform/tracing/otlp-json-spans.ts';
import { WorkerSpanExporter } from '../../src/platform/tracing/worker-span-exporter.ts';
import { OtlpReceiver } from '../support/otlp-receiver.ts';

interface Encoded {
  body: Uint8Array;
  spans: number;
}

/** A batch of ended spans with these names, encoded as the span processor hands it to the exporter. */
function endedSpans(...names: string[]): Encoded {
  const memory = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
  const tracer = provider.getTracer('worker-span-exporter-test');
  for (const name of names) tracer.startSpan(name).end();
  const batch = new OtlpJsonBatch();
  for (const span of memory.getFinishedSpans()) batch.add(span);
  return { body: batch.take(), spans: names.length };
}

function exported(exporter: WorkerSpanExporter, { body, spans }: Encoded): Promise<ExportResult> {
  return new Promise((done) => exporter.export(body, spans, done));
}

describe('WorkerSpanExporter', () => {
  const receiver = new OtlpReceiver();
  before(() => receiver.start());
  after(() => receiver.stop());

  it('sends each batch as OTLP JSON from its worker thread: this thread opens no client socket', async () => {
    const clientSockets: unknown[] = [];
    const seen = (socket: unknown) => clientSockets.push(socket);
    subscribe('net.client.socket', seen);
    const exporter = new WorkerSpanExporter({ url: `${receiver.endpoint}/v1/traces`, timeoutMillis: 5_000 });
    try {
      assert.equal((await exported(exporter, endedSpans('first', 'second'))).code, ExportResultCode.SUCCESS);
      assert.equal((await exported(exporter, endedSpans('third'))).code, ExportResultCode.SUCCESS);
      const names = receiver.spans.map((span) => span.name);
      for (const name of ['first', 'second', 'third']) assert.ok(names.includes(name), `${name} in ${names}`);
      assert.ok(receiver.contentTypes.every((type) => type.startsWith('application/json')));
      assert.equal(clientSockets.length, 0, 'no client socket in the thread that serves requests');
    } finally {
      unsubscribe('net.client.socket', seen);
      await exporter.shutdown();
    }
  });

  it('sends what it was handed before shutdown resolves', async () => {
    const exporter = new WorkerSpanExporter({ url: `${receiver.endpoint}/v1/traces`, timeoutMillis: 5_000 });
    const results: ExportResult[] = [];
    const { body, spans } = endedSpans('handed-over-at-shutdown');
    exporter.export(body, spans, (result) => results.push(result));
    await exporter.shutdown();
    assert.deepEqual(
      results.map((result) => result.code),
      [ExportResultCode.SUCCESS],
    );
    assert.ok(receiver.spans.some((span) => span.name === 'handed-over-at-shutdown'));
  });

  it('forceFlush waits for a batch handed over while the worker is still starting', async () => {
    const exporter = new WorkerSpanExporter({ url: `${receiver.endpoint}/v1/traces`, timeoutMillis: 5_000 });
    try {
      const { body, spans } = endedSpans('flushed-while-starting');
      const results: ExportResult[] = [];
      exporter.export(body, spans, (result) => results.push(result));
      await exporter.forceFlush();
      assert.deepEqual(
        results.map((result) => result.code),
        [ExportResultCode.SUCCESS],
      );
      assert.ok(receiver.spans.some((span) => span.name === 'flushed-while-starting'));
    } finally {
      await exporter.shutdown();
    }
  });

  it('fails a batch the collector refuses, with its status in the error, and keeps exporting', async () => {
    let refuse = true;
    const collector = createServer((request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(refuse ? 400 : 200).end('{}'));
    });
    collector.listen(0, '127.0.0.1');
    await once(collector, 'listening');
    const url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
    const exporter = new WorkerSpanExporter({ url, timeoutMillis: 5_000 });
    try {
      const refused = await exported(exporter, endedSpans('refused'));
      assert.equal(refused.code, ExportResultCode.FAILED);
      assert.match(String(refused.error?.message), /400/);
      refuse = false;
      assert.equal((await exported(exporter, endedSpans('accepted'))).code, ExportResultCode.SUCCESS);
    } finally {
      await exporter.shutdown();
      collector.closeAllConnections();
      collector.close();
    }
  });

  it('does not keep an idle process alive: a process that exported once ends by itself', async () => {
    const script = `
      import { NodeTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
      import { OtlpJsonBatch } from './src/platform/tracing/otlp-json-spans.ts';
      import { WorkerSpanExporter } from './src/platform/tracing/worker-span-exporter.ts';
      const memory = new InMemorySpanExporter();
      const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
      provider.getTracer('t').startSpan('from-a-short-process').end();
      const batch = new OtlpJsonBatch();
      batch.add(memory.getFinishedSpans()[0]);
      const exporter = new WorkerSpanExporter({ url: process.argv[1], timeoutMillis: 5_000 });
      exporter.export(batch.take(), 1, (result) => console.log('result', result.code, result.error?.message ?? ''));
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '-e', script, `${receiver.endpoint}/v1/traces`],
      { cwd: resolve(import.meta.dirname, '../..'), timeout: 15_000 },
    );
    assert.equal(stdout.trim(), `result ${ExportResultCode.SUCCESS}`);
    assert.ok(receiver.spans.some((span) => span.name === 'from-a-short-process'));
  });
});
