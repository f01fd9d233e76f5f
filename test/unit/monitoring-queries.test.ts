import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findSharedQueries, loadQueries, queryNames, renderQuery } from '../../deploy/monitoring/queries.ts';

test('the contract queries exist, each with a description and both placeholders', () => {
  for (const name of ['p99_latency_seconds', 'error_ratio', 'slow_request_rate']) {
    assert.ok(queryNames().includes(name), `${name} is missing from queries.yaml`);
  }
  for (const [name, query] of Object.entries(loadQueries())) {
    assert.ok(query.description.length > 10, `${name} needs a description`);
    assert.match(query.expr, /\$selector/, `${name} has no $selector`);
    assert.match(query.expr, /\$window/, `${name} has no $window`);
  }
});

test('every query is guarded against no traffic, so it yields no data instead of NaN', () => {
  for (const [name, query] of Object.entries(loadQueries())) {
    assert.match(
      query.expr,
      /(and on\(namespace\) |\/ \()sum by \(namespace\) \(rate\(http_requests_total\{[^}]*\}\[\$window\]\)\) > 0/,
      name,
    );
  }
});

test('renderQuery fills both placeholders and leaves no dangling comma without a selector', () => {
  const rendered = renderQuery('error_ratio', {
    selector: 'service="user-service",canary="true"',
    window: '5m',
  });
  assert.doesNotMatch(rendered, /\$selector|\$window/);
  assert.match(rendered, /status_code=~"5..",service="user-service",canary="true"\}\[5m\]/);
  const bare = renderQuery('p99_latency_seconds', { selector: '', window: '30s' });
  assert.doesNotMatch(bare, /,\}|\{,/);
  assert.match(bare, /\[30s\]/);
  assert.match(
    renderQuery('p99_latency_seconds', { selector: 'service="$service"', window: '$__rate_interval' }),
    /\[\$__rate_interval\]/,
  );
});

test('every query aggregates by namespace, so environments never mix and alerts carry namespace', () => {
  for (const [name, query] of Object.entries(loadQueries())) {
    const aggregations = [...query.expr.matchAll(/\b(sum|max|min|avg|count)\b( by \(([^)]*)\))? ?\(/g)];
    assert.ok(aggregations.length > 0, name);
    for (const [text, , , labels] of aggregations)
      assert.match(labels ?? '', /^namespace\b/, `${name}: ${text} drops the namespace`);
    for (const [text, labels] of query.expr.matchAll(/\b(?:and|or) on\(([^)]*)\)/g))
      assert.equal(labels, 'namespace', `${name}: ${text} matches across environments`);
  }
});

test('renderQuery accepts an Argo Rollouts argument in the selector and nothing else in braces', () => {
  const rendered = renderQuery('error_ratio', {
    selector: 'service="user-service",namespace="{{args.namespace}}",canary="true"',
    window: '2m',
  });
  assert.match(rendered, /namespace="\{\{args\.namespace\}\}",canary="true"\}\[2m\]/);
  assert.throws(
    () => renderQuery('error_ratio', { selector: 'namespace="{{args.namespace}}"}', window: '2m' }),
    /without braces/,
  );
});

test('renderQuery refuses unknown names, braces in the selector and odd windows', () => {
  assert.throws(() => renderQuery('p98', { selector: '', window: '5m' }), /unknown shared query/);
  assert.throws(() => renderQuery('error_ratio', { selector: '{a="b"}', window: '5m' }), /without braces/);
  assert.throws(() => renderQuery('error_ratio', { selector: '', window: '5 minutes' }), /range/);
});

test('findSharedQueries recognises verbatim copies and leaves an edited copy behind', () => {
  const selector = 'service="user-service"';
  const copy = `(${renderQuery('p99_latency_seconds', { selector, window: '5m' })}) > 0.8`;
  const found = findSharedQueries(copy, [selector]);
  assert.deepEqual(found.uses, [{ name: 'p99_latency_seconds', selector, window: '5m' }]);
  assert.equal(found.rest, '(<p99_latency_seconds>) > 0.8');
  const edited = findSharedQueries(copy.replace('sum by (namespace, le)', 'sum by (namespace, le, route)'), [
    selector,
  ]);
  assert.deepEqual(edited.uses, []);
  assert.match(edited.rest, /http_request_duration_seconds_bucket/);
});
