import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { EncodedSpanExporter } from './encoding-span-processor.ts';
import {
  type BatchOutcome,
  type EncodedBatch,
  type ExportWorkerSettings,
  SHUTDOWN,
} from './otlp-export-protocol.ts';

/** Beside this module in the source tree; beside the service's entry point in the bundle (scripts/build.ts). */
const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './otlp-export-worker.ts' : './otlp-export-worker.mjs',
  import.meta.url,
);

/**
 * A bound on the worker's heap (about 8 MB used in the bundle, 14 MB run from source): encoded batches waiting to
 * be sent live outside it (ArrayBuffers), bounded by the exporter's concurrency limit.
 */
const WORKER_LIMITS = { maxOldGenerationSizeMb: 32 };

/**
 * Sends each batch, encoded as OTLP JSON on this thread (encoding-span-processor.ts), from a worker thread. Any
 * client socket a process opens gives the stream and HTTP code that server sockets run through a second object
 * layout to handle, and V8's inline caches there stay slower for the life of the process: a few node:http (or
 * fetch, or plain net) requests at start-up cost a service that makes no other outgoing connection 4 to 6 µs of
 * CPU on every request it serves (`node bench/thread-cpu.ts`, docs/observability.md). The worker's isolate keeps
 * those connections out of this one.
 */
export class WorkerSpanExporter implements EncodedSpanExporter {
  readonly #settings: ExportWorkerSettings;
  #worker: Promise<Worker> | undefined;
  #nextId = 0;
  readonly #pending = new Map<number, (result: ExportResult) => void>();
  /** Batches handed to export() whose outcome has not been reported yet. */
  #outstanding = 0;
  readonly #drained: (() => void)[] = [];

  constructor(settings: ExportWorkerSettings) {
    this.#settings = settings;
  }

  /** Sends `body`, an ExportTraceServiceRequest of `spans` spans; the worker starts with the first batch. */
  export(body: Uint8Array, spans: number, resultCallback: (result: ExportResult) => void): void {
    this.#outstanding += 1;
    const done = (result: ExportResult) => {
      this.#outstanding -= 1;
      resultCallback(result);
      if (this.#outstanding === 0) for (const resolve of this.#drained.splice(0)) resolve();
    };
    this.#send(body, spans, done).catch((error: unknown) =>
      done({ code: ExportResultCode.FAILED, error: error as Error }),
    );
  }

  /** Resolves once every batch handed over so far has been sent or has failed. */
  forceFlush(): Promise<void> {
    if (this.#outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  /** Lets the worker send what it holds (the exporter's own bounds apply), then ends it. */
  async shutdown(): Promise<void> {
    const starting = this.#worker;
    this.#worker = undefined;
    const worker = await starting?.catch(() => undefined);
    if (worker === undefined) return;
    worker.ref();
    const exited = once(worker, 'exit');
    worker.postMessage(SHUTDOWN);
    await exited;
  }

  async #send(
    body: Uint8Array,
    spans: number,
    resultCallback: (result: ExportResult) => void,
  ): Promise<void> {
    const worker = await this.#started();
    const id = ++this.#nextId;
    const batch: EncodedBatch = { id, body, spans };
    const ownsBuffer = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
    worker.postMessage(batch, ownsBuffer ? [body.buffer as ArrayBuffer] : []);
    // Its outcome arrives as a message, so never before this line runs.
    this.#pending.set(id, resultCallback);
    // Held open only while a batch is out, so an idle exporter never keeps the process alive.
    worker.ref();
  }

  #started(): Promise<Worker> {
    if (this.#worker === undefined) {
      const starting = this.#start();
      this.#worker = starting;
      // A worker that could not start is tried again by the next batch.
      starting.catch(() => {
        if (this.#worker === starting) this.#worker = undefined;
      });
    }
    return this.#worker;
  }

  #start(): Promise<Worker> {
    // None of the main thread's command-line flags: the worker needs none, and some (--input-type) would stop it.
    const worker = new Worker(WORKER_URL, {
      workerData: this.#settings,
      resourceLimits: WORKER_LIMITS,
      execArgv: [],
    });
    // Held open until it runs, so a batch waiting for it is not dropped by a process that would otherwise end.
    const current = once(worker, 'online').then(() => {
      if (this.#pending.size === 0) worker.unref();
      return worker;
    });
    worker.on('message', (message: BatchOutcome) => {
      const callback = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if (this.#pending.size === 0) worker.unref();
      callback?.(
        message.sent
          ? { code: ExportResultCode.SUCCESS }
          : { code: ExportResultCode.FAILED, error: new Error(message.error) },
      );
    });
    // A worker that ends on its own (out of its heap, say) fails what it held; the next batch starts a new one.
    worker.on('exit', (code) => {
      if (this.#worker === current) this.#worker = undefined;
      const callbacks = [...this.#pending.values()];
      this.#pending.clear();
      worker.unref();
      const error = new Error(`the span export worker ended (exit code ${code})`);
      for (const callback of callbacks) callback({ code: ExportResultCode.FAILED, error });
    });
    worker.on('error', () => {
      // Followed by 'exit', which fails what the worker held.
    });
    return current;
  }
}
