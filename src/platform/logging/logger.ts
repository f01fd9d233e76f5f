import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { LOG_LEVELS } from '../config/platform-config-schema.ts';
import { redactSecrets, SECRET_SERIALIZERS, serializeError } from './redact-secrets.ts';
import { requestLogFields } from './request-log-context.ts';

export type LogLevel = (typeof LOG_LEVELS)[number];
export type { Logger };

const LEVEL_LABELS: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
};

export interface LoggerSettings {
  service: string;
  version: string;
  /** Marks every line of a canary instance, so its logs can be told from the stable ones. */
  canary?: boolean;
  level: LogLevel;
  /**
   * Extra fields for every line, such as the active trace and span ids; without one, lines written while a request
   * is handled carry its `trace_id`. Must be cheap: it runs per line. It must return a new object each time: pino
   * merges the line's fields into it.
   */
  mixin?: (mergeObject: object, level: number, logger: object) => Record<string, unknown>;
  /** Where lines go; defaults to stdout through an asynchronous buffer, pretty-printed when stdout is a terminal. */
  destination?: DestinationStream;
}

export interface PlatformLogger {
  logger: Logger;
  /** Writes out what is still buffered; called by the lifecycle right before the process exits. */
  flush(): void;
}

let stampedAt = Number.NaN;
let stamp = '';

/**
 * The line's `timestamp`, formatted once per millisecond: under load many lines share one, and formatting was a
 * tenth of a line's cost.
 */
function isoTimestampField(): string {
  const now = Date.now();
  if (now !== stampedAt) {
    stampedAt = now;
    stamp = `,"timestamp":"${new Date(now).toISOString()}"`;
  }
  return stamp;
}

export function loggerOptions(settings: LoggerSettings): LoggerOptions {
  return {
    level: settings.level,
    messageKey: 'message',
    errorKey: 'error',
    base: { service: settings.service, version: settings.version, canary: settings.canary ?? false },
    timestamp: isoTimestampField,
    formatters: {
      level: (label) => ({ level: LEVEL_LABELS[label] ?? label.toUpperCase() }),
      log: redactSecrets,
      bindings: redactSecrets,
    },
    // Errors are serialized (and redacted) by the log formatter already; these only serialize what it did not see.
    serializers: { ...SECRET_SERIALIZERS, err: serializeError, error: serializeError },
    mixin: settings.mixin ?? requestLogFields,
  };
}

/** pino-pretty is a development aid: production images leave it out, and a terminal there gets JSON lines. */
function prettyPrinterInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

export function createLogger(settings: LoggerSettings): PlatformLogger {
  const options = loggerOptions(settings);
  if (settings.destination) {
    return { logger: pino(options, settings.destination), flush: () => {} };
  }
  if (process.stdout.isTTY && prettyPrinterInstalled()) {
    const transport = pino.transport({
      target: 'pino-pretty',
      options: { messageKey: 'message', colorize: true, ignore: 'service,version,canary' },
    });
    return { logger: pino(options, transport), flush: () => transport.flushSync?.() };
  }
  // Lines are gathered into 2 KiB and written synchronously. Asynchronous writes went through libuv's thread
  // pool, and that round trip (a thread woken and a callback run, on the same fifth of a CPU) cost 2.5 µs per line,
  // a tenth of a whole GET; larger batches cost more, because sonic-boom measures the byte length of the string a
  // line is appended to on every write. A stdout pipe nobody drains then holds the process back, where the
  // asynchronous buffer grew without bound in a 128 MiB pod.
  const stdout = pino.destination({ dest: 1, sync: true, minLength: 2048, maxWrite: 8192 });
  // The buffer only fills under traffic: on a quiet service a WARN (an outage, "restart required") would sit in
  // it indefinitely, so it is written out at least every quarter second.
  setInterval(() => stdout.flush(), 250).unref();
  return { logger: pino(options, stdout), flush: () => stdout.flushSync() };
}
