import { type Attributes, type Context, ROOT_CONTEXT, type SpanKind } from '@opentelemetry/api';
import {
  type IdGenerator,
  ParentBasedSampler,
  RandomIdGenerator,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-node';

/**
 * Set on a server span recorded after its request ended, because it failed or was slow although the trace was not
 * sampled at its start: `error` or `slow`. Its presence also makes the sampler record the span.
 */
export const KEPT_AS = 'sampling.kept_as';

/**
 * Parent-based with a trace-id ratio for new traces, as the OpenTelemetry default, except that a span marked
 * KEPT_AS is always recorded: the decision to keep it was made after the fact, from its outcome.
 */
export class RequestSampler implements Sampler {
  readonly #ratio: TraceIdRatioBasedSampler;
  readonly #parentBased: ParentBasedSampler;

  constructor(ratio: number) {
    this.#ratio = new TraceIdRatioBasedSampler(ratio);
    this.#parentBased = new ParentBasedSampler({ root: this.#ratio });
  }

  /** The start-of-request decision for a new trace; the same function of the trace id the SDK applies. */
  samplesNewTrace(traceId: string): boolean {
    return this.#ratio.shouldSample(ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED;
  }

  shouldSample(
    context: Context,
    traceId: string,
    name: string,
    kind: SpanKind,
    attributes: Attributes,
  ): SamplingResult {
    if (attributes[KEPT_AS] !== undefined) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    return this.#parentBased.shouldSample(context, traceId, name, kind, attributes, []);
  }

  toString(): string {
    return `RequestSampler{${this.#parentBased.toString()}}`;
  }
}

/**
 * The SDK draws span and trace ids itself; a request's ids are drawn before its span exists (its log lines carry
 * them from the start, and an unsampled request may get its span only when it ends). Presetting them for the one
 * synchronous startSpan call makes the span use the ids the logs already show.
 */
export class PresetIdGenerator implements IdGenerator {
  readonly #random = new RandomIdGenerator();
  #traceId: string | undefined;
  #spanId: string | undefined;

  /** Runs `start` with these ids handed out to the span it starts (the trace id only if it is a new trace). */
  withIds<T>(traceId: string, spanId: string, start: () => T): T {
    this.#traceId = traceId;
    this.#spanId = spanId;
    try {
      return start();
    } finally {
      this.#traceId = undefined;
      this.#spanId = undefined;
    }
  }

  generateTraceId(): string {
    const preset = this.#traceId;
    if (preset === undefined) return this.#random.generateTraceId();
    this.#traceId = undefined;
    return preset;
  }

  generateSpanId(): string {
    const preset = this.#spanId;
    if (preset === undefined) return this.#random.generateSpanId();
    this.#spanId = undefined;
    return preset;
  }
}
