import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/**
 * The shared PromQL of deploy/monitoring/queries.yaml, rendered for one use. Every copy of a query (alert rules,
 * Grafana panels, the canary AnalysisTemplate) must equal renderQuery's output; tests compare them, so a copy
 * cannot drift from the source.
 *
 *   renderQuery('p99_latency_seconds', { selector: 'service="user-service",canary="true"', window: '5m' })
 */

export interface SharedQuery {
  description: string;
  /** PromQL with the placeholders `$selector` and `$window`. */
  expr: string;
}

export interface QueryParameters {
  /**
   * Label matchers without braces, e.g. `service="user-service",canary="true"`; may be empty. An Argo Rollouts
   * argument (`namespace="{{args.namespace}}"`) is the one brace pair allowed.
   */
  selector: string;
  /** A PromQL range such as `30s`, `5m`, `1h30m`, or a Grafana interval variable such as `$__rate_interval`. */
  window: string;
}

export const QUERIES_FILE = new URL('./queries.yaml', import.meta.url);

let cached: Record<string, SharedQuery> | undefined;

export function loadQueries(): Record<string, SharedQuery> {
  if (cached) return cached;
  const parsed = parse(readFileSync(QUERIES_FILE, 'utf8')) as Record<string, Partial<SharedQuery>>;
  const queries: Record<string, SharedQuery> = {};
  for (const [name, query] of Object.entries(parsed)) {
    if (typeof query?.expr !== 'string' || typeof query.description !== 'string')
      throw new Error(`queries.yaml: ${name} needs a description and an expr`);
    queries[name] = { description: query.description, expr: query.expr.trim() };
  }
  cached = queries;
  return queries;
}

export function queryNames(): string[] {
  return Object.keys(loadQueries());
}

/** An Argo Rollouts analysis argument, which Argo fills in before the query reaches Prometheus. */
const ARGO_ARGUMENT = /\{\{\s*args\.[\w-]+\s*\}\}/g;

const RANGE = /^(?:\d+(?:ms|[smhdwy]))+$|^\$\{?__\w+\}?$|^\$\{?\w+\}?$/;

export function renderQuery(name: string, { selector, window }: QueryParameters): string {
  const query = loadQueries()[name];
  if (!query) throw new Error(`unknown shared query ${name}; known: ${queryNames().join(', ')}`);
  if (/[{}]/.test(selector.replaceAll(ARGO_ARGUMENT, '')))
    throw new Error(`selector must be matchers without braces, got ${selector}`);
  if (!RANGE.test(window)) throw new Error(`window must be a PromQL range like 5m, got ${window}`);
  const matchers = selector.trim();
  // With no selector, a matcher list `{a="b",$selector}` must not keep a dangling comma.
  const withSelector = matchers
    ? query.expr.replaceAll('$selector', matchers)
    : query.expr.replaceAll(',$selector', '').replaceAll('$selector', '');
  return withSelector.replaceAll('$window', window);
}

export interface SharedQueryUse {
  name: string;
  selector: string;
  window: string;
}

/** Metric names the shared queries read; a copy that drifted from its source still mentions them. */
export function sharedQueryMetrics(): string[] {
  const names = new Set<string>();
  for (const query of Object.values(loadQueries())) {
    for (const match of query.expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)) names.add(match[1]!);
  }
  return [...names];
}

/**
 * Finds the exact renderings of shared queries inside a copy (an alert expression, a panel target), trying every
 * query with each given selector and every range the copy uses. What is left (`rest`) must not read the shared
 * metrics any more: if it does, part of the copy was edited by hand and no longer equals the source.
 */
export function findSharedQueries(
  expr: string,
  selectors: string[],
): { uses: SharedQueryUse[]; rest: string } {
  const windows = [...new Set([...expr.matchAll(/\[([^\]:]+)\]/g)].map((match) => match[1]!))];
  const candidates: (SharedQueryUse & { text: string })[] = [];
  for (const name of queryNames()) {
    for (const selector of selectors) {
      for (const window of windows) {
        candidates.push({ name, selector, window, text: renderQuery(name, { selector, window }) });
      }
    }
  }
  candidates.sort((a, b) => b.text.length - a.text.length);
  const uses: SharedQueryUse[] = [];
  let rest = expr;
  for (const { text, ...use } of candidates) {
    while (rest.includes(text)) {
      rest = rest.replace(text, `<${use.name}>`);
      uses.push(use);
    }
  }
  return { uses, rest };
}

// `node deploy/monitoring/queries.ts NAME SELECTOR WINDOW` prints a rendering, to paste into a copy.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [name, selector = '', window = '5m'] = process.argv.slice(2);
  if (!name) {
    console.error(`usage: queries.ts NAME [SELECTOR] [WINDOW]; names: ${queryNames().join(', ')}`);
    process.exit(2);
  }
  console.log(renderQuery(name, { selector, window }));
}
