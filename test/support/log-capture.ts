import { on } from 'node:events';
import { Writable } from 'node:stream';

export type LogLine = Record<string, unknown> & { level: string; message: string; timestamp: string };

/** A pino destination that keeps every line, parsed, so tests assert on real log output. */
export class LogCapture extends Writable {
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  #buffer = '';

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.append(chunk.toString('utf8'));
    done();
  }

  append(text: string): void {
    this.#buffer += text;
    let newline = this.#buffer.indexOf('\n');
    while (newline !== -1) {
      const line = this.#buffer.slice(0, newline);
      this.#buffer = this.#buffer.slice(newline + 1);
      if (line.trim() !== '') {
        this.raw.push(line);
        const parsed = JSON.parse(line) as LogLine;
        this.lines.push(parsed);
        this.emit('line', parsed);
      }
      newline = this.#buffer.indexOf('\n');
    }
  }

  find(predicate: (line: LogLine) => boolean): LogLine | undefined {
    return this.lines.find(predicate);
  }

  /** The first matching line, already written or still to come; rejects once `signal` aborts. */
  async waitForLine(predicate: (line: LogLine) => boolean, signal: AbortSignal): Promise<LogLine> {
    const seen = this.find(predicate);
    if (seen) return seen;
    try {
      for await (const [line] of on(this, 'line', { signal })) {
        if (predicate(line as LogLine)) return line as LogLine;
      }
    } catch (error) {
      throw new Error(`no matching log line: ${String(signal.reason ?? error)}`, { cause: error });
    }
    throw new Error('no matching log line: the capture ended');
  }
}
