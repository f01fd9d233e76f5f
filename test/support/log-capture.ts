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
        this.lines.push(JSON.parse(line) as LogLine);
      }
      newline = this.#buffer.indexOf('\n');
    }
  }

  find(predicate: (line: LogLine) => boolean): LogLine | undefined {
    return this.lines.find(predicate);
  }
}
