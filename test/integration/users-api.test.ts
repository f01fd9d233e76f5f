import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/postgres-database.ts';
import { needs, TEST_DATABASE_URL } from '../support/requirements.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const PROBLEM_TYPE = 'application/problem+json';

interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: each test asserts the JSON body field by field, whatever its shape
  body: any;
}

function client(base: () => string) {
  return async function request(
    method: string,
    path: string,
    options: { json?: unknown; body?: string; headers?: Record<string, string> } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    let body = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${base()}${path}`, {
      method,
      headers,
      body,
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text === '' ? undefined : JSON.parse(text),
    };
  };
}

function assertProblem(reply: Reply, status: number, instance?: string) {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  assert.equal(reply.headers.get('content-type'), PROBLEM_TYPE);
  assert.equal(reply.body.status, status);
  assert.match(reply.body.type, /^https:\/\//);
  assert.equal(typeof reply.body.title, 'string');
  assert.match(reply.body.trace_id, /^[0-9a-f]{32}$/);
  if (instance) assert.equal(reply.body.instance, instance);
}

let sequence = 0;
const uniqueEmail = (label = 'user') => `${label}.${Date.now()}.${sequence++}@example.com`;

function defineApiSuite(
  storage: string,
  setup: () => Promise<{ url: string; cleanup?: () => Promise<void> }>,
  skip: string | false = false,
) {
  describe(`users API over real HTTP on ${storage}`, { skip }, () => {
    let testApp: TestApp;
    let cleanup: (() => Promise<void>) | undefined;
    const request = client(() => testApp.url);
    const createUser = async (name = 'Ada Lovelace', email = uniqueEmail()) => {
      const reply = await request('POST', '/users', { json: { name, email } });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      return reply.body as {
        id: string;
        name: string;
        email: string;
        created_at: string;
        updated_at: string;
      };
    };

    before(async () => {
      const target = await setup();
      cleanup = target.cleanup;
      testApp = await startTestApp(target.url);
    });
    after(async () => {
      await testApp?.close();
      await cleanup?.();
    });

    it('creates a user: 201, Location, UUIDv7 id, timestamps, active status', async () => {
      const email = uniqueEmail('ada');
      const reply = await request('POST', '/users', { json: { name: 'Ada', email } });
      assert.equal(reply.status, 201);
      assert.match(reply.body.id, UUID_V7);
      assert.equal(reply.headers.get('location'), `/users/${reply.body.id}`);
      assert.deepEqual(
        { name: reply.body.name, email: reply.body.email, status: reply.body.status },
        { name: 'Ada', email, status: 'active' },
      );
      assert.ok(Date.parse(reply.body.created_at) <= Date.now());
      // Written by the response serializer from the stored Date: exactly Date#toISOString's form.
      assert.equal(reply.body.created_at, new Date(reply.body.created_at).toISOString());
      assert.equal(reply.body.created_at, reply.body.updated_at);
    });

    it('reads a user back by id, and 404s an absent one', async () => {
      const user = await createUser();
      const reply = await request('GET', `/users/${user.id}`);
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body, { ...user });
      const absent = '01900000-0000-7000-8000-000000000000';
      assertProblem(await request('GET', `/users/${absent}`), 404, `/users/${absent}`);
    });

    it('rejects a malformed id with 400 naming the parameter', async () => {
      for (const id of ['abc', '123', "1' or '1'='1", '00000000-0000-0000-0000-00000000000g']) {
        const reply = await request('GET', `/users/${encodeURIComponent(id)}`);
        assertProblem(reply, 400);
        assert.equal(reply.body.errors[0].field, 'params/id');
      }
    });

    it('keeps emails unique case-insensitively: 409 on a clash', async () => {
      const email = uniqueEmail('Grace');
      await createUser('Grace', email);
      const reply = await request('POST', '/users', { json: { name: 'Other', email: email.toUpperCase() } });
      assertProblem(reply, 409, '/users');
      assert.deepEqual(reply.body.errors, [{ field: 'body/email', message: 'already taken' }]);
    });

    it('replays a retried POST with the same Idempotency-Key and creates nothing new', async () => {
      const key = `key-${uniqueEmail()}`;
      const body = { name: 'Retry', email: uniqueEmail('retry') };
      const first = await request('POST', '/users', { json: body, headers: { 'idempotency-key': key } });
      const second = await request('POST', '/users', { json: body, headers: { 'idempotency-key': key } });
      assert.equal(first.status, 201);
      assert.equal(second.status, 201);
      assert.deepEqual(second.body, first.body);
      assert.equal(second.headers.get('location'), first.headers.get('location'));
      assert.equal(second.headers.get('idempotent-replayed'), 'true');
      assert.equal(first.headers.get('idempotent-replayed'), null);
    });

    it('creates exactly one user when the same Idempotency-Key arrives concurrently', async () => {
      const key = `concurrent-${uniqueEmail()}`;
      const body = { name: 'Racer', email: uniqueEmail('racer') };
      const replies = await Promise.all(
        Array.from({ length: 5 }, () =>
          request('POST', '/users', { json: body, headers: { 'idempotency-key': key } }),
        ),
      );
      assert.deepEqual(
        replies.map((reply) => reply.status),
        [201, 201, 201, 201, 201],
      );
      assert.equal(new Set(replies.map((reply) => reply.body.id)).size, 1);
    });

    it('refuses to reuse an Idempotency-Key for a different body (422)', async () => {
      const key = `reuse-${uniqueEmail()}`;
      await request('POST', '/users', {
        json: { name: 'A', email: uniqueEmail() },
        headers: { 'idempotency-key': key },
      });
      const reply = await request('POST', '/users', {
        json: { name: 'B', email: uniqueEmail() },
        headers: { 'idempotency-key': key },
      });
      assertProblem(reply, 422);
      assert.match(reply.body.type, /idempotency-key-reused/);
    });

    it('updates name and email with PATCH, bumping updated_at', async () => {
      const user = await createUser('Before');
      const email = uniqueEmail('after');
      const reply = await request('PATCH', `/users/${user.id}`, { json: { name: 'After', email } });
      assert.equal(reply.status, 200);
      assert.equal(reply.body.name, 'After');
      assert.equal(reply.body.email, email);
      assert.equal(reply.body.created_at, user.created_at);
      assert.ok(Date.parse(reply.body.updated_at) >= Date.parse(user.updated_at));
      assert.equal((await request('GET', `/users/${user.id}`)).body.name, 'After');
      const merge = await request('PATCH', `/users/${user.id}`, {
        body: JSON.stringify({ name: 'Merged' }),
        headers: { 'content-type': 'application/merge-patch+json' },
      });
      assert.equal(merge.status, 200);
      assert.equal(merge.body.name, 'Merged');
    });

    it('rejects PATCH errors: empty, unknown field, clash, absent user', async () => {
      const user = await createUser();
      const other = await createUser();
      assertProblem(await request('PATCH', `/users/${user.id}`, { json: {} }), 400);
      const unknown = await request('PATCH', `/users/${user.id}`, { json: { role: 'admin' } });
      assertProblem(unknown, 400);
      assert.equal(unknown.body.errors[0].field, 'body/role');
      assertProblem(
        await request('PATCH', `/users/${user.id}`, { json: { email: other.email.toUpperCase() } }),
        409,
      );
      assertProblem(
        await request('PATCH', '/users/01900000-0000-7000-8000-000000000001', { json: { name: 'x' } }),
        404,
      );
      assert.equal(
        (await request('GET', `/users/${user.id}`)).body.email,
        user.email,
        'nothing half-applied',
      );
    });

    it('deletes a user: 204, then 404 on read and on a second delete', async () => {
      const user = await createUser();
      const reply = await request('DELETE', `/users/${user.id}`);
      assert.equal(reply.status, 204);
      assert.equal(reply.body, undefined);
      assertProblem(await request('GET', `/users/${user.id}`), 404);
      assertProblem(await request('DELETE', `/users/${user.id}`), 404);
    });

    it('pages through every user once, in id order, with keyset cursors', async () => {
      const created = new Set<string>();
      for (let i = 0; i < 5; i++) created.add((await createUser(`Page ${i}`)).id);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
        const reply = await request('GET', `/users${query}`);
        assert.equal(reply.status, 200);
        assert.ok(reply.body.items.length <= 2);
        seen.push(...reply.body.items.map((user: { id: string }) => user.id));
        cursor = reply.body.next_cursor;
        pages += 1;
        assert.ok(pages < 1_000, 'pagination terminates');
      } while (cursor !== null);
      assert.equal(new Set(seen).size, seen.length, 'no duplicates');
      assert.deepEqual(seen, [...seen].sort(), 'ordered by id');
      for (const id of created) assert.ok(seen.includes(id));
    });

    it('defaults to 20 per page and rejects bad limits, cursors and unknown parameters', async () => {
      for (let i = 0; i < 21; i++) await createUser(`Default ${i}`);
      const page = await request('GET', '/users');
      assert.equal(page.body.items.length, 20);
      assert.equal(typeof page.body.next_cursor, 'string');
      for (const query of [
        'limit=0',
        'limit=101',
        'limit=abc',
        'limit=1.5',
        'cursor=%25%25',
        'cursor=bm90LWEtdXVpZA',
        'sort=name',
      ]) {
        assertProblem(await request('GET', `/users?${query}`), 400);
      }
      assert.equal((await request('GET', '/users?limit=100')).status, 200);
    });

    it('answers every kind of bad input with a clear 4xx problem, never a 500', async () => {
      const cases: [string, { body?: string; headers?: Record<string, string>; json?: unknown }, number][] = [
        ['malformed JSON', { body: '{"name": "x",', headers: { 'content-type': 'application/json' } }, 400],
        [
          'wrong content type',
          { body: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
          415,
        ],
        ['text body', { body: 'hello', headers: { 'content-type': 'text/plain' } }, 415],
        ['empty JSON body', { body: '', headers: { 'content-type': 'application/json' } }, 400],
        ['array body', { json: [{ name: 'x', email: 'x@example.com' }] }, 400],
        ['oversized body', { json: { name: 'x'.repeat(20_000), email: 'big@example.com' } }, 413],
        ['unknown field', { json: { name: 'x', email: uniqueEmail(), admin: true } }, 400],
        ['missing field', { json: { name: 'x' } }, 400],
        ['number as name', { json: { name: 5, email: uniqueEmail() } }, 400],
        ['null name', { json: { name: null, email: uniqueEmail() } }, 400],
        ['huge name', { json: { name: 'x'.repeat(5_000), email: uniqueEmail() } }, 400],
        ['blank name', { json: { name: '   ', email: uniqueEmail() } }, 400],
        ['NUL in name', { json: { name: 'a\u0000b', email: uniqueEmail() } }, 400],
        ['newline in name', { json: { name: 'a\nb', email: uniqueEmail() } }, 400],
        ['bad email', { json: { name: 'x', email: 'not-an-email' } }, 400],
        [
          'prototype poisoning',
          {
            body: '{"name":"x","email":"p@example.com","__proto__":{"admin":true}}',
            headers: { 'content-type': 'application/json' },
          },
          400,
        ],
        [
          'bad idempotency key',
          { json: { name: 'x', email: uniqueEmail() }, headers: { 'idempotency-key': 'has space' } },
          400,
        ],
      ];
      for (const [label, options, status] of cases) {
        const reply = await request('POST', '/users', options);
        assert.equal(reply.status, status, `${label}: ${JSON.stringify(reply.body)}`);
        assertProblem(reply, status, '/users');
      }
      const invalid = await request('POST', '/users', { json: { name: 5, email: 'nope', extra: 1 } });
      assert.deepEqual(invalid.body.errors.map((error: { field: string }) => error.field).sort(), [
        'body/email',
        'body/extra',
        'body/name',
      ]);
    });

    it('returns a problem for unknown routes and serves health, OpenAPI and Swagger UI', async () => {
      assertProblem(await request('GET', '/nope'), 404, '/nope');
      assert.deepEqual((await request('GET', '/healthz')).body, { status: 'pass' });
      const ready = await request('GET', '/readyz');
      assert.equal(ready.status, 200);
      assert.equal(ready.body.status, 'pass');
      const spec = await request('GET', '/openapi.json');
      assert.equal(spec.body.openapi, '3.1.0');
      assert.deepEqual(Object.keys(spec.body.paths).sort(), ['/users', '/users/{id}']);
      assert.ok(spec.body.paths['/users'].post.responses['409']);
      const docs = await fetch(`${testApp.url}/docs/`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(docs.status, 200);
      assert.match(await docs.text(), /swagger/i);
    });
  });
}

defineApiSuite('the in-memory repository', async () => ({ url: 'memory://' }));
defineApiSuite('PGlite', async () => ({ url: 'pglite://memory' }));
const pgSkip = needs('postgres');
defineApiSuite(
  'PostgreSQL',
  async () => {
    const database: TestDatabase = await createTestDatabase(TEST_DATABASE_URL!, 'users_api');
    return { url: database.url, cleanup: () => database.drop() };
  },
  pgSkip,
);
