import { Type } from 'typebox';

/** Tracing keys; restart-only, because the SDK has to start before the modules it instruments are loaded. */
export const tracingConfigProperties = {
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(
    Type.String({
      pattern: '^https?://',
      description:
        'OTLP/HTTP collector base URL (Jaeger: `http://jaeger:4318`); spans are sent to ENDPOINT/v1/traces as OTLP JSON. Unset: tracing is off and the tracing SDK is not even loaded.',
    }),
  ),
  OTEL_TRACES_SAMPLER_ARG: Type.Number({
    minimum: 0,
    maximum: 1,
    default: 0.01,
    description:
      'Share of new traces that are recorded from their start (0..1). Parent-based: a request whose `traceparent` is sampled is always recorded. A request not sampled at its start that ends as an error (5xx, response not completed) or slower than SLOW_REQUEST_MS still gets its server span, recorded when it ends (`sampling.kept_as`), at most 100 a second.',
  }),
};
