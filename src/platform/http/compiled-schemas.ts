import type { Options as AjvOptions, ValidateFunction } from 'ajv';

/**
 * Route validators and response serializers compiled ahead of time. Ajv and fast-json-stringify generate code with
 * `new Function` when a route is added, at every start (about 50 ms of CPU for the users service, a quarter of a
 * second at the pod's 0.2 CPU), and V8's compile cache cannot keep code made that way. The service bundle carries
 * the same code as ordinary functions instead: scripts/build.ts generates it from the service's routes and puts it
 * in place of `compiledSchemas` below. From sources (tests, `npm start`) the table is empty and everything is
 * compiled at start-up as before.
 *
 * An entry is used only when the schema it was generated from is the one the route asks for now (compared as
 * JSON, external schemas included for serializers); anything else is compiled at start-up, so a route the build
 * did not see still works.
 */
export interface CompiledSchemaTable {
  validators: ReadonlyMap<string, CompiledEntry<ValidateFunction>>;
  serializers: ReadonlyMap<string, CompiledEntry<(data: unknown) => string>>;
}

export interface CompiledEntry<F> {
  /** The JSON of what the code was generated from. */
  source: string;
  /** Evaluates the generated module on first use. */
  load: () => F;
}

/** Set in the bundle by scripts/build.ts; absent when running from sources. */
export const compiledSchemas: CompiledSchemaTable | undefined = undefined;

/** What the build hands in to capture the generated code of every schema compiled while it builds an app. */
export interface SchemaCodeRecorder {
  /** Ajv options that make it keep the source of what it generates (standalone code). */
  ajvOptions: Pick<AjvOptions, 'code'>;
  validator: (key: string, source: string, ajv: unknown, validate: ValidateFunction) => void;
  serializer: (
    key: string,
    source: string,
    route: SerializerRoute,
    externalSchemas: unknown,
    options: unknown,
  ) => void;
}

export interface ValidatorRoute {
  schema: unknown;
  method: string;
  url: string;
  httpPart?: string;
}

export interface SerializerRoute {
  schema: unknown;
  method: string;
  url: string;
  httpStatus: string;
  contentType?: string;
}

let recorder: SchemaCodeRecorder | undefined;

/** Build time only: from now on every schema compiled is also reported, with its generated code. */
export function recordSchemaCode(next: SchemaCodeRecorder | undefined): void {
  recorder = next;
}

export function schemaCodeRecorder(): SchemaCodeRecorder | undefined {
  return recorder;
}

export function validatorKey({ method, url, httpPart }: ValidatorRoute): string {
  return `${method} ${url} ${httpPart ?? ''}`;
}

export function serializerKey({ method, url, httpStatus, contentType }: SerializerRoute): string {
  return `${method} ${url} ${httpStatus} ${contentType ?? ''}`;
}

/** The compiled entry for this key when it was generated from exactly this source. */
export function compiledFor<F>(
  entries: ReadonlyMap<string, CompiledEntry<F>> | undefined,
  key: string,
  source: () => string,
): F | undefined {
  const entry = entries?.get(key);
  return entry && entry.source === source() ? entry.load() : undefined;
}
