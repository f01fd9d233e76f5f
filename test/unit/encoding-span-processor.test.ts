import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { DiagLogLevel, diag } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode, setGlobalErrorHandler } from '@opentelemetry/core';
import {
  AlwaysOnSampler,
  NodeTracerProvider,
  type Sampler,
  SamplingDecision,
} from '@opentelemetry/sdk-trace-node';
import {
  type EncodedSpanExporter,
  EncodingSpanProcessor,
} from '../../src/platform/tracing/encoding-span-processor.ts';

interface Sent {
  names: string[];
  spans: number;
  done: (result: ExportResult) => void;
}

/** Keeps what it is handed; each batch's outcome is given by the test (done), as the worker would. */
class StandInExporter implements EncodedSpanExporter {
  readonly sent: Sent[] = [];
  shutDown = false;
  #next: ((sent: Sent) => void) | undefined;

  export(body: Uint8Array, spans: number, done: (result: ExportResult) => void): void {
    const request = JSON.parse(Buffer.from(body).toString('utf8')) as {
      resourceSpans: { scopeSpans: { spans: { name: string }[] }[] }[];
    };
    const names = request.resourceSpans.flatMap((r) =>
      r.scopeSpans.flatMap((s) => s.spans.map((x) => x.name)),
    );
    const sent = { names, spans, done };
    this.sent.push(sent);
    this.#next?.(sent);
    this.#next = undefined;
  }

  /** The next batch handed over. */
  nextBatch(): Promise<Sent> {
    return new Promise((resolve) => {
      this.#next = resolve;
    });
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  async shutdown(): Promise<void> {
    this.shutDown = true;
  }
}

function tracerWith(processor: EncodingSpanProcessor, sampler: Sampler = new AlwaysOnSampler()) {
  const provider = new NodeTracerProvider({ sampler, spanProcessors: [processor] });
  return (name: string) => provider.getTracer('processor-test').startSpan(name).end();
}

describe('EncodingSpanProcessor', () => {
  afterEach(() => {
    diag.disable();
    setGlobalErrorHandler(() => {});
  });

  it('hands a batch over as soon as maxExportBatchSize spans have ended, encoded, with its span count', () => {
    const exporter = new StandInExporter();
    const end = tracerWith(
      new EncodingSpanProcessor(exporter, { maxExportBatchSize: 2, scheduledDelayMillis: 60_000 }),
    );
    end('a');
    assert.equal(exporter.sent.length, 0);
    end('b');
    end('c');
    assert.deepEqual(
      exporter.sent.map(({ names, spans }) => ({ names, spans })),
      [{ names: ['a', 'b'], spans: 2 }],
    );
  });

  it('sends a partial batch after scheduledDelayMillis', async () => {
    const exporter = new StandInExporter();
    const end = tracerWith(
      new EncodingSpanProcessor(exporter, { maxExportBatchSize: 100, scheduledDelayMillis: 10 }),
    );
    const batch = exporter.nextBatch();
    end('alone');
    assert.deepEqual((await batch).names, ['alone']);
  });

  it('ignores spans that are recorded but not sampled', async () => {
    const exporter = new StandInExporter();
    const recordOnly: Sampler = { shouldSample: () => ({ decision: SamplingDecision.RECORD }) };
    const processor = new EncodingSpanProcessor(exporter, { scheduledDelayMillis: 60_000 });
    tracerWith(processor, recordOnly)('recorded only');
    await processor.forceFlush();
    assert.equal(exporter.sent.length, 0);
  });

  it('holds at most maxQueueSize spans: the rest are dropped, counted and reported at the next send', () => {
    const exporter = new StandInExporter();
    const warnings: string[] = [];
    diag.setLogger(
      {
        error: () => {},
        warn: (message) => warnings.push(message),
        info: () => {},
        debug: () => {},
        verbose: () => {},
      },
      { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
    const processor = new EncodingSpanProcessor(exporter, {
      maxQueueSize: 4,
      maxExportBatchSize: 2,
      scheduledDelayMillis: 60_000,
    });
    const end = tracerWith(processor);
    for (const name of ['1', '2', '3', '4', '5', '6']) end(name); // the exporter answers none of them
    assert.deepEqual(
      exporter.sent.map((sent) => sent.names),
      [
        ['1', '2'],
        ['3', '4'],
      ],
    );
    assert.equal(processor.dropped, 2);
    for (const sent of exporter.sent) sent.done({ code: ExportResultCode.SUCCESS });
    end('7');
    end('8');
    assert.deepEqual(exporter.sent.at(-1)?.names, ['7', '8'], 'room again once batches are answered');
    assert.deepEqual(warnings, ['2 spans dropped: the export queue was full']);
  });

  it('reports a failed export to the global error handler', () => {
    const exporter = new StandInExporter();
    const errors: unknown[] = [];
    setGlobalErrorHandler((error) => errors.push(error));
    tracerWith(new EncodingSpanProcessor(exporter, { maxExportBatchSize: 1 }))('refused');
    exporter.sent[0]?.done({ code: ExportResultCode.FAILED, error: new Error('HTTP 400') });
    assert.deepEqual(
      errors.map((error) => (error as Error).message),
      ['HTTP 400'],
    );
  });

  it('sends what has ended at shutdown, shuts the exporter down, and takes no span after', async () => {
    const exporter = new StandInExporter();
    const processor = new EncodingSpanProcessor(exporter, { scheduledDelayMillis: 60_000 });
    const end = tracerWith(processor);
    end('before shutdown');
    await processor.shutdown();
    assert.deepEqual(
      exporter.sent.map((sent) => sent.names),
      [['before shutdown']],
    );
    assert.equal(exporter.shutDown, true);
    end('after shutdown');
    await processor.forceFlush();
    assert.equal(exporter.sent.length, 1);
  });
});
