import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BusinessError,
  conflict,
  DependencyError,
  notFound,
  SystemError,
} from '../../src/platform/errors/app-error.ts';
import { PROBLEM_TYPE_BASE, toAppError, toProblem } from '../../src/platform/errors/problem-details.ts';

describe('error taxonomy', () => {
  it('keeps business errors as they are, message shown', () => {
    const error = toAppError(notFound('User 1 does not exist.'));
    assert.equal(error.kind, 'business');
    const problem = toProblem(error, '/users/1', 'abc');
    assert.deepEqual(problem, {
      type: `${PROBLEM_TYPE_BASE}not-found`,
      title: 'Not Found',
      status: 404,
      detail: 'User 1 does not exist.',
      instance: '/users/1',
      trace_id: 'abc',
    });
  });

  it('turns schema validation failures into a 400 listing every offending field', () => {
    const error = toAppError({
      message: 'body/name must be string',
      statusCode: 400,
      validationContext: 'body',
      validation: [
        { instancePath: '/name', keyword: 'type', message: 'must be string', params: {} },
        {
          instancePath: '',
          keyword: 'required',
          message: "must have required property 'email'",
          params: { missingProperty: 'email' },
        },
        {
          instancePath: '',
          keyword: 'additionalProperties',
          message: 'must NOT have additional properties',
          params: { additionalProperty: 'admin' },
        },
      ],
    });
    assert.equal(error.status, 400);
    assert.deepEqual(
      error.invalidFields?.map((field) => field.field),
      ['body/name', 'body/email', 'body/admin'],
    );
  });

  it('treats framework 4xx errors as business errors with their message', () => {
    const error = toAppError({
      statusCode: 415,
      code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
      message: 'Unsupported Media Type: text/plain',
    });
    assert.equal(error.kind, 'business');
    assert.equal(error.status, 415);
    assert.equal(error.code, 'ctp-invalid-media-type');
    assert.equal(error.detail, 'Unsupported Media Type: text/plain');
  });

  it('hides the internals of anything unexpected behind a 500 system error', () => {
    const error = toAppError(new TypeError('cannot read properties of undefined (reading "password")'));
    assert.ok(error instanceof SystemError);
    assert.equal(error.status, 500);
    const problem = toProblem(error, '/users', 't');
    assert.equal(JSON.stringify(problem).includes('password'), false);
    assert.ok(error.cause instanceof TypeError, 'the original error is kept for the log');
  });

  it('treats a 5xx thrown by a library as a system error, not a client error', () => {
    assert.equal(toAppError({ statusCode: 502, message: 'upstream' }).kind, 'system');
  });

  it('makes dependency failures a 503 with Retry-After naming the dependency', () => {
    const error = toAppError(new DependencyError('database'));
    assert.equal(error.kind, 'dependency');
    assert.equal(error.status, 503);
    assert.equal(error.headers?.['retry-after'], '1');
    assert.match(error.detail ?? '', /database/);
  });

  it('carries invalid fields of business errors into the problem', () => {
    const problem = toProblem(
      conflict('taken', [{ field: 'body/email', message: 'already taken' }]),
      '/users',
      't',
    );
    assert.deepEqual(problem.errors, [{ field: 'body/email', message: 'already taken' }]);
    assert.ok(new BusinessError({ status: 422, code: 'x', title: 'y' }) instanceof Error);
  });
});
