import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { collectRows, loadServiceSchemas, renderConfigurationDoc, renderTable } from '../../scripts/docs.ts';
import { headingAnchors, isExternal, linkTargets } from '../support/markdown-links.ts';

const ROOT = join(import.meta.dirname, '..', '..');

function section(page: string, name: string): string {
  const start = page.indexOf(`<!-- ${name}:start -->`);
  const end = page.indexOf(`<!-- ${name}:end -->`);
  assert.ok(start !== -1 && end > start, `the page has the ${name} markers`);
  return page.slice(start, end);
}

describe('the documentation stays in step with the code', () => {
  it('documents every config key of every service exactly as the schemas define it', async () => {
    const { current, expected } = await renderConfigurationDoc();
    assert.equal(current, expected, 'the configuration table is stale: run `npm run docs`');
  });

  it('lists each key once with its default, and every key has a description', async () => {
    const rows = collectRows(await loadServiceSchemas());
    const undocumented = rows.filter((row) => row.description.trim() === '').map((row) => row.key);
    assert.deepEqual(undocumented, [], 'config keys without a description');
    assert.match(renderTable(rows), /\| `PORT` \| `8080` \|/);
  });

  it('describes every npm script, and no script that does not exist', async () => {
    const packageJson = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const table = section(await readFile(join(ROOT, 'docs', 'development.md'), 'utf8'), 'npm-scripts');
    const documented = [...table.matchAll(/^\| `([^`]+)` \|/gm)].map((match) => match[1]!);
    const scripts = Object.keys(packageJson.scripts);
    assert.deepEqual(
      scripts.filter((name) => !documented.includes(name)),
      [],
      'npm scripts missing from docs/development.md: add a row to its npm-scripts table saying what each does',
    );
    assert.deepEqual(
      documented.filter((name) => !scripts.includes(name)),
      [],
      'docs/development.md lists npm scripts that package.json lacks',
    );
  });

  it('gives the two set-up commands, and CI runs the test command the README gives', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## API'));
    assert.match(quickStart, /npm ci && npm start/);
    assert.match(quickStart, /^npm test\b/m);
    const ciRun = await readFile(join(ROOT, '.ci', 'run'), 'utf8');
    assert.match(ciRun, /^npm test$/m);
  });

  it('names every npm script in docs/development.md', async () => {
    const packageJson = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const page = await readFile(join(ROOT, 'docs', 'development.md'), 'utf8');
    assert.deepEqual(
      Object.keys(packageJson.scripts).filter((name) => !page.includes(`\`${name}\``)),
      [],
      'npm scripts docs/development.md does not name',
    );
  });
});

const README_MAX_LINES = 200;

/** README.md, the benchmark and runbook pages and every page under docs/, relative to the repository root. */
async function documentationPages(): Promise<string[]> {
  const docs = (await readdir(join(ROOT, 'docs'))).filter((name) => name.endsWith('.md')).sort();
  return [
    'README.md',
    'bench/README.md',
    'deploy/monitoring/runbooks.md',
    ...docs.map((name) => `docs/${name}`),
  ];
}

/** Relative links of one page that lead nowhere: a missing file, or a `#fragment` no heading of the target has. */
async function brokenLinks(page: string, markdown: string): Promise<string[]> {
  const broken: string[] = [];
  for (const target of linkTargets(markdown)) {
    if (isExternal(target)) continue;
    const [path = '', fragment] = target.split('#', 2);
    const file = path === '' ? join(ROOT, page) : join(ROOT, dirname(page), decodeURI(path));
    if (!existsSync(file)) {
      broken.push(`${page}: ${target} (no file ${relative(ROOT, file)})`);
      continue;
    }
    if (fragment !== undefined && file.endsWith('.md')) {
      const anchors = headingAnchors(file === join(ROOT, page) ? markdown : await readFile(file, 'utf8'));
      if (!anchors.has(fragment)) broken.push(`${page}: ${target} (no heading #${fragment})`);
    }
  }
  return broken;
}

describe('the documentation hangs together', () => {
  it(`keeps README.md a front door of at most ${README_MAX_LINES} lines`, async () => {
    const lines = (await readFile(join(ROOT, 'README.md'), 'utf8')).trimEnd().split('\n').length;
    assert.ok(lines <= README_MAX_LINES, `README.md has ${lines} lines; move detail to a page in docs/`);
  });

  it('links from the README to every page in docs/', async () => {
    const linked = new Set(linkTargets(await readFile(join(ROOT, 'README.md'), 'utf8')));
    const pages = (await documentationPages()).filter(
      (page) => page !== 'README.md' && !page.startsWith('deploy/'),
    );
    assert.deepEqual(
      pages.filter((page) => !linked.has(page)),
      [],
      'documentation pages the README does not link',
    );
  });

  it('has no relative link to a missing file or heading', async () => {
    const broken: string[] = [];
    for (const page of await documentationPages()) {
      broken.push(...(await brokenLinks(page, await readFile(join(ROOT, page), 'utf8'))));
    }
    assert.deepEqual(broken, [], 'broken links');
  });

  it('reports a link to a missing file or heading, and ignores links inside code', async () => {
    const page = [
      '# Title',
      '[ok](docs/api.md#routes) [self](#title) [web](https://example.com/x.md)',
      '[gone](docs/nothing.md) [no heading](docs/api.md#no-such-heading)',
      '`[in code](missing.md)`',
      '```',
      '[in a block](missing-too.md)',
      '```',
    ].join('\n');
    assert.deepEqual(await brokenLinks('README.md', page), [
      'README.md: docs/nothing.md (no file docs/nothing.md)',
      'README.md: docs/api.md#no-such-heading (no heading #no-such-heading)',
    ]);
  });

  it('derives heading anchors as GitHub does', () => {
    assert.deepEqual(
      [...headingAnchors('# Canary (prod)\n## Errors (RFC 9457)\n## Keys\n## Keys\n## What it costs')],
      ['canary-prod', 'errors-rfc-9457', 'keys', 'keys-1', 'what-it-costs'],
    );
  });
});
