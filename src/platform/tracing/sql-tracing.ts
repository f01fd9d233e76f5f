import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_SYSTEM_NAME,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  DB_SYSTEM_NAME_VALUE_POSTGRESQL,
} from '@opentelemetry/semantic-conventions';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import { withClientQueries } from '../database/pool-client-queries.ts';

export interface SqlTarget {
  database?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
}

const tracer = () => trace.getTracer('user-service.sql');

/**
 * A span per SQL statement, made at the pool Kysely queries through. It works the same for node-postgres and
 * the embedded PGlite, and in the bundled build, where module-patching instrumentations never see `pg`. The
 * statement text carries placeholders, never the parameter values.
 */
export function tracedPool(pool: PostgresPool, target: SqlTarget): PostgresPool {
  const baseAttributes: Record<string, string | number> = {
    [ATTR_DB_SYSTEM_NAME]: DB_SYSTEM_NAME_VALUE_POSTGRESQL,
  };
  if (target.database) baseAttributes[ATTR_DB_NAMESPACE] = target.database;
  if (target.host) baseAttributes[ATTR_SERVER_ADDRESS] = target.host;
  if (target.port) baseAttributes[ATTR_SERVER_PORT] = target.port;

  return withClientQueries(
    pool,
    (client) =>
      (<R>(sql: string, parameters: readonly unknown[]) => {
        // Only statements inside a recorded trace get a span: migrations and readiness pings would each start a
        // trace of their own, and under an unsampled request the span would be dropped anyway.
        if (!trace.getSpan(context.active())?.isRecording()) return client.query<R>(sql, parameters);
        const { operation, collection } = describeStatement(sql);
        return tracer().startActiveSpan(
          collection ? `${operation} ${collection}` : operation,
          {
            kind: SpanKind.CLIENT,
            attributes: { ...baseAttributes, [ATTR_DB_OPERATION_NAME]: operation, [ATTR_DB_QUERY_TEXT]: sql },
          },
          async (span) => {
            try {
              const result = (await client.query(sql, parameters)) as PostgresQueryResult<R>;
              if (result.rowCount !== undefined && result.rowCount !== null) {
                span.setAttribute('db.response.returned_rows', Number(result.rowCount));
              }
              return result;
            } catch (error) {
              span.recordException(error as Error);
              span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
              const code = (error as { code?: unknown }).code;
              if (typeof code === 'string') span.setAttribute('db.response.status_code', code);
              throw error;
            } finally {
              span.end();
            }
          },
        );
      }) as PostgresPoolClient['query'],
  );
}

const OPERATION = /^\s*(\w+)/;
const COLLECTION: Record<string, RegExp> = {
  SELECT: /\bfrom\s+("?[\w]+"?(?:\."?\w+"?)?)/i,
  DELETE: /\bfrom\s+("?[\w]+"?(?:\."?\w+"?)?)/i,
  INSERT: /\binto\s+("?[\w]+"?(?:\."?\w+"?)?)/i,
  UPDATE: /^\s*update\s+("?[\w]+"?(?:\."?\w+"?)?)/i,
};

/** The operation (SELECT, INSERT, BEGIN …) and, for plain DML, the table: together the span name. */
export function describeStatement(sql: string): { operation: string; collection: string | undefined } {
  const operation = (OPERATION.exec(sql)?.[1] ?? 'SQL').toUpperCase();
  const collection = COLLECTION[operation]?.exec(sql)?.[1]?.replaceAll('"', '');
  return { operation, collection };
}
