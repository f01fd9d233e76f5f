import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeStatement } from '../../src/platform/tracing/sql-tracing.ts';
import { usersConfigSchema } from '../../src/services/users/config.ts';

describe('SQL span names', () => {
  it('name the operation and, for plain DML, the table', () => {
    assert.deepEqual(describeStatement('insert into "users" ("id") values ($1) returning *'), {
      operation: 'INSERT',
      collection: 'users',
    });
    assert.deepEqual(describeStatement('select "id" from "users" where "id" = $1'), {
      operation: 'SELECT',
      collection: 'users',
    });
    assert.deepEqual(describeStatement('update "users" set "name" = $1 where "id" = $2'), {
      operation: 'UPDATE',
      collection: 'users',
    });
    assert.deepEqual(describeStatement('delete from "public"."users" where "id" = $1'), {
      operation: 'DELETE',
      collection: 'public.users',
    });
    assert.deepEqual(describeStatement('begin'), { operation: 'BEGIN', collection: undefined });
    assert.deepEqual(describeStatement('select 1'), { operation: 'SELECT', collection: undefined });
  });
});

describe('Observability configuration keys', () => {
  it('fault injection is off by default and reloadable; tracing keys are restart-only', () => {
    const { properties } = usersConfigSchema as unknown as {
      properties: Record<string, { default?: unknown; reloadable?: boolean }>;
    };
    for (const key of ['FAULT_SLOW_RATIO', 'FAULT_ERROR_RATIO']) {
      assert.equal(properties[key]?.default, 0, key);
      assert.equal(properties[key]?.reloadable, true, key);
    }
    assert.equal(properties.FAULT_SLOW_MS?.reloadable, true);
    assert.equal(properties.CANARY?.default, false);
    assert.equal(properties.OTEL_TRACES_SAMPLER_ARG?.reloadable, undefined);
    assert.equal(properties.OTEL_EXPORTER_OTLP_ENDPOINT?.default, undefined);
  });
});
