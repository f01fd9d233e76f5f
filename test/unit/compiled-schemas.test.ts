import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import type { ValidateFunction } from 'ajv';
import { type CompiledEntry, compiledFor } from '../../src/platform/http/compiled-schemas.ts';
import { generateSchemaCode } from '../../src/platform/http/schema-code.ts';
import { appForSchemaCompilation } from '../../src/services/users/schema-compilation.ts';

interface Table {
  validators: Map<string, CompiledEntry<ValidateFunction>>;
  serializers: Map<string, CompiledEntry<(data: unknown) => string>>;
}

/** The generated module evaluated as the bundle would, its require()s resolved from this repository. */
async function generatedTable(): Promise<Table> {
  const code = await generateSchemaCode(appForSchemaCompilation);
  const body = code.replace('export const compiledSchemaTable =', 'return');
  return new Function('require', body)(createRequire(import.meta.url)) as Table;
}

const table = await generatedTable();
const validator = (key: string) => {
  const entry = table.validators.get(key);
  assert.ok(entry, `no compiled validator for ${key}: ${[...table.validators.keys()].join(', ')}`);
  return entry.load();
};
const serializer = (key: string) => {
  const entry = table.serializers.get(key);
  assert.ok(entry, `no compiled serializer for ${key}: ${[...table.serializers.keys()].join(', ')}`);
  return entry.load();
};

const user = {
  id: '01938f4e-7b1c-7cc3-9a4e-3c2b1a0f9e8d',
  name: 'Ada',
  email: 'ada@example.com',
  status: 'active',
  created_at: '2026-01-02T03:04:05.000Z',
  updated_at: '2026-01-02T03:04:05.000Z',
};

describe('Schemas compiled at build time', () => {
  it('covers every route of the users service, each part and status, HEAD routes included', () => {
    for (const key of [
      'POST /users body',
      'POST /users headers',
      'GET /users querystring',
      'PATCH /users/:id params',
    ])
      validator(key);
    for (const key of [
      'GET /users 200 ',
      'HEAD /users 200 ',
      'POST /users 201 ',
      'GET /users/:id 404 ',
      'DELETE /users/:id 204 ',
    ])
      serializer(key);
  });

  it('validates bodies strictly, formats included, as the start-up compiled Ajv does', () => {
    const validate = validator('POST /users body');
    assert.equal(validate({ name: 'Ada', email: 'ada@example.com' }), true);
    assert.equal(validate({ name: 5, email: 'ada@example.com' }), false, 'no coercion of a body');
    assert.equal(validate({ name: 'Ada', email: 'not-an-email' }), false, 'the email format is checked');
    assert.equal(validate({ name: 5, email: 'nope' }), false);
    assert.equal(validate.errors?.length, 2, 'all errors of a body are reported');
  });

  it('coerces query strings and fills their defaults', () => {
    const validate = validator('GET /users querystring');
    const query: Record<string, unknown> = { limit: '5' };
    assert.equal(validate(query), true);
    assert.equal(query.limit, 5);
    const empty: Record<string, unknown> = {};
    assert.equal(validate(empty), true);
    assert.equal(typeof empty.limit, 'number', 'the default limit is filled in');
    assert.equal(validate({ limit: 'abc' }), false);
  });

  it('serializes responses, $ref and anyOf included, as JSON.stringify reads them', () => {
    const list = { items: [user], next_cursor: null };
    assert.deepEqual(JSON.parse(serializer('GET /users 200 ')(list)), list);
    const next = { items: [], next_cursor: 'abc' };
    assert.deepEqual(JSON.parse(serializer('GET /users 200 ')(next)), next);
    const problem = {
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      instance: '/users/x',
      trace_id: 'a',
    };
    assert.deepEqual(JSON.parse(serializer('GET /users/:id 404 ')(problem)), problem);
  });

  it('generates no code that compiles at load time', () => {
    for (const entry of [...table.validators.values(), ...table.serializers.values()]) {
      const source = entry.load.toString();
      assert.doesNotMatch(source, /new Function|fast-json-stringify\/lib\/validator/);
    }
  });

  it('uses an entry only for the schema it was generated from', () => {
    const entries = new Map([['GET /x 200 ', { source: '{"type":"string"}', load: () => 'compiled' }]]);
    assert.equal(
      compiledFor(entries, 'GET /x 200 ', () => '{"type":"string"}'),
      'compiled',
    );
    assert.equal(
      compiledFor(entries, 'GET /x 200 ', () => '{"type":"integer"}'),
      undefined,
    );
    assert.equal(
      compiledFor(entries, 'GET /y 200 ', () => '{"type":"string"}'),
      undefined,
    );
    assert.equal(
      compiledFor(undefined, 'GET /x 200 ', () => '{"type":"string"}'),
      undefined,
    );
  });
});
