import type { PGlite } from '@electric-sql/pglite';
import type { PostgresQueryResult } from 'kysely';

/** PGlite's sync after an exchange is skipped: see #exchange. */
const NO_SYNC = { syncToFs: false } as const;

/**
 * Runs SQL on PGlite as PostgreSQL's extended protocol intends: a statement with parameters is parsed and
 * described once, as a named prepared statement, then each run is one Bind/Execute/Sync exchange. PGlite's own
 * `query()` sends Parse, Describe, Bind, Describe, Execute and Sync as six exchanges with the WebAssembly
 * backend, plans the statement every time, and keeps a copy of every reply: about 4 times the CPU of a prepared
 * run for a read by primary key (0.25 ms against 0.06 ms). Values are serialized and rows parsed with the
 * database's own type handlers (`db.serializers`, `db.parsers`), so results are the same as `query()`'s.
 *
 * The caller must hold the connection exclusively (PGlitePool's lease): PGlite's protocol entry point takes no
 * lock of its own.
 */
export class PGliteStatements {
  readonly #db: PGlite;
  readonly #prepared = new Map<string, Prepared>();
  /** Prepared statements forgotten here and still to be closed in the backend. */
  #toClose: string[] = [];
  #nextName = 1;

  constructor(db: PGlite) {
    this.#db = db;
  }

  async run<R>(sql: string, parameters: readonly unknown[]): Promise<PostgresQueryResult<R>> {
    let messages: BackendMessage[];
    let fields: readonly Field[] | undefined;
    if (parameters.length === 0) {
      // Transaction control, DDL and pings: parsed unnamed, in one exchange, and not kept.
      messages = await this.#exchange(
        concat([parse('', sql), bind('', []), describe('P', ''), EXECUTE, SYNC]),
      );
      fields = rowDescription(messages);
    } else {
      const statement = this.#prepared.get(sql) ?? (await this.#prepare(sql));
      const values = parameters.map((value, i) => this.#serialize(value, statement.parameterTypes[i]));
      messages = await this.#exchange(concat([bind(statement.name, values), EXECUTE, SYNC]));
      fields = statement.fields;
    }
    return this.#result<R>(messages, fields);
  }

  async #prepare(sql: string): Promise<Prepared> {
    if (this.#toClose.length > 0) {
      const closing = this.#toClose.map((old) => close(old));
      this.#toClose = [];
      // Housekeeping only: a failure here (an aborted transaction) must not fail the statement being prepared.
      await this.#db.execProtocolStream(concat([...closing, SYNC]), { ...NO_SYNC, throwOnError: false });
    }
    const name = `s${this.#nextName++}`;
    const messages = await this.#exchange(concat([parse(name, sql), describe('S', name), SYNC]));
    let parameterTypes: readonly number[] = [];
    for (const message of messages) {
      if (message.name === 'parameterDescription')
        parameterTypes = (message as ParameterDescriptionMessage).dataTypeIDs;
    }
    const statement: Prepared = { name, parameterTypes, fields: rowDescription(messages) };
    if (this.#prepared.size >= MAX_PREPARED) this.#forget(this.#prepared.keys().next().value as string);
    this.#prepared.set(sql, statement);
    return statement;
  }

  #forget(sql: string): void {
    const statement = this.#prepared.get(sql);
    if (statement === undefined) return;
    this.#prepared.delete(sql);
    this.#toClose.push(statement.name);
  }

  /**
   * Throws the backend's error (a DatabaseError with its SQLSTATE `code`, `constraint`, `detail`...).
   * Without PGlite's sync after each exchange: it persists an in-memory file system to a browser's storage, and
   * on Node there is none to persist (NODEFS writes reach the data directory as PostgreSQL makes them, MEMFS has
   * nowhere to go), yet each sync takes a mutex and walks every mount: a quarter of a read by primary key (118
   * against 88 µs of CPU per prepared read in a loop). test/integration/pglite-storage.test.ts kills a process
   * after a write and finds it.
   */
  #exchange(message: Uint8Array): Promise<BackendMessage[]> {
    return this.#db.execProtocolStream(message, NO_SYNC) as Promise<BackendMessage[]>;
  }

  #serialize(value: unknown, type: number | undefined): string | null {
    if (value === null || value === undefined) return null;
    const serializer = type === undefined ? undefined : this.#db.serializers[type];
    return serializer ? serializer(value) : String(value);
  }

  #result<R>(messages: BackendMessage[], fields: readonly Field[] | undefined): PostgresQueryResult<R> {
    const rows: R[] = [];
    let tag = '';
    const parsers = this.#db.parsers;
    for (const message of messages) {
      if (message.name === 'dataRow' && fields !== undefined) {
        const values = (message as DataRowMessage).fields;
        const row: Record<string, unknown> = {};
        for (let i = 0; i < fields.length; i++) {
          const field = fields[i] as Field;
          const value = values[i] ?? null;
          const parser = parsers[field.dataTypeID];
          row[field.name] = value === null || parser === undefined ? value : parser(value, field.dataTypeID);
        }
        rows.push(row as R);
      } else if (message.name === 'commandComplete') {
        tag = (message as CommandCompleteMessage).text;
      }
    }
    // A schema change can change what a prepared statement returns: every statement is prepared anew after one.
    if (SCHEMA_CHANGE.test(tag)) for (const sql of [...this.#prepared.keys()]) this.#forget(sql);
    const words = tag.split(' ');
    const count = Number.parseInt(words[words.length - 1] ?? '', 10);
    return { command: commandOf(words[0] ?? ''), rowCount: Number.isNaN(count) ? rows.length : count, rows };
  }
}

/** Far above the distinct parameterised statements a service sends; the oldest goes first beyond it. */
const MAX_PREPARED = 500;
const SCHEMA_CHANGE = /^(CREATE|ALTER|DROP|DISCARD|DEALLOCATE)\b/;

interface Field {
  name: string;
  dataTypeID: number;
}

interface Prepared {
  name: string;
  parameterTypes: readonly number[];
  /** Undefined for a statement that returns no rows. */
  fields: readonly Field[] | undefined;
}

/** The parts of PGlite's parsed backend messages read here. */
interface BackendMessage {
  name: string;
}
interface ParameterDescriptionMessage extends BackendMessage {
  dataTypeIDs: number[];
}
interface RowDescriptionMessage extends BackendMessage {
  fields: Field[];
}
interface DataRowMessage extends BackendMessage {
  fields: (string | null)[];
}
interface CommandCompleteMessage extends BackendMessage {
  text: string;
}

function rowDescription(messages: BackendMessage[]): readonly Field[] | undefined {
  const description = messages.find((message) => message.name === 'rowDescription') as
    | RowDescriptionMessage
    | undefined;
  return description?.fields.map(({ name, dataTypeID }) => ({ name, dataTypeID }));
}

function commandOf(word: string): PostgresQueryResult<unknown>['command'] {
  switch (word) {
    case 'INSERT':
    case 'UPDATE':
    case 'DELETE':
    case 'MERGE':
      return word;
    default:
      return 'SELECT';
  }
}

// Frontend messages (https://www.postgresql.org/docs/current/protocol-message-formats.html). Every value is
// sent as text and every result column asked for as text, as PGlite's query() does.

function message(type: string, parts: readonly (string | Uint8Array | number)[]): Uint8Array {
  return frame(type, concat(parts.map(encode)));
}

function frame(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setInt32(1, 4 + body.length);
  out.set(body, 5);
  return out;
}

const encoder = new TextEncoder();

/** A string becomes a NUL-terminated C string, a number a 16-bit integer. */
function encode(part: string | Uint8Array | number): Uint8Array {
  if (part instanceof Uint8Array) return part;
  if (typeof part === 'number') return int16(part);
  const bytes = encoder.encode(part);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

function int16(value: number): Uint8Array {
  const out = new Uint8Array(2);
  new DataView(out.buffer).setInt16(0, value);
  return out;
}

function int32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, value);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function parse(name: string, sql: string): Uint8Array {
  return message('P', [name, sql, 0]);
}

function describe(kind: 'S' | 'P', name: string): Uint8Array {
  return message('D', [encoder.encode(kind), name]);
}

function close(name: string): Uint8Array {
  return message('C', [encoder.encode('S'), name]);
}

function bind(statement: string, values: readonly (string | null)[]): Uint8Array {
  const parts: (string | Uint8Array | number)[] = ['', statement, 0, values.length];
  for (const value of values) {
    if (value === null) {
      parts.push(int32(-1));
    } else {
      const bytes = encoder.encode(value);
      parts.push(int32(bytes.length), bytes);
    }
  }
  parts.push(0);
  return message('B', parts);
}

const EXECUTE = message('E', ['', int32(0)]);
const SYNC = frame('S', new Uint8Array(0));
