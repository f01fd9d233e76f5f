import { type Compilable, type CompiledQuery, createQueryId, type QueryResult } from 'kysely';

/** Runs a compiled query: `Kysely#executeQuery` of the database (or transaction) the query was built on. */
export interface QueryRunner {
  executeQuery<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>;
}

const marker = (key: string) => `\u0000reusable-query:${key}`;

/**
 * A query Kysely builds and compiles once and then runs with new values (Kysely's "splitting build, compile and
 * execute" recipe). Building a query tree and compiling it is paid on every call otherwise: for an INSERT ...
 * RETURNING of six columns about 6 µs of CPU and several KB of short-lived objects per request, which under a
 * fifth of a CPU and 50 requests waiting on the pool outlive the young generation. The query is compiled from one
 * distinct marker per key, and the position Kysely gave each marker among the parameters is read back, so a value
 * can only ever land where its key was compiled; a query that does not pass every key as exactly one parameter
 * fails here, at start-up, instead of at a request.
 */
export function reusableQuery<Values extends object, Row>(
  runner: QueryRunner,
  keys: readonly (keyof Values & string)[],
  build: (placeholders: Values) => Compilable<Row>,
): (values: Values) => Promise<QueryResult<Row>> {
  const placeholders = Object.fromEntries(keys.map((key) => [key, marker(key)])) as unknown as Values;
  const compiled = build(placeholders).compile();
  const order = compiled.parameters.map((parameter) => {
    const key = keys.find((candidate) => marker(candidate) === parameter);
    if (key === undefined)
      throw new Error(`reusable query: a parameter is not one of ${keys.join(', ')}: ${compiled.sql}`);
    return key;
  });
  const missing = keys.filter((key) => order.filter((used) => used === key).length !== 1);
  if (missing.length > 0)
    throw new Error(
      `reusable query: ${missing.join(', ')} not passed exactly once as a parameter: ${compiled.sql}`,
    );
  return (values) =>
    runner.executeQuery<Row>({
      query: compiled.query,
      queryId: createQueryId(),
      sql: compiled.sql,
      parameters: order.map((key) => values[key]),
    });
}
