import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { collectRows, loadServiceSchemas, renderConfigurationDoc, renderTable } from '../../scripts/docs.ts';

const ROOT = join(import.meta.dirname, '..', '..');

function section(page: string, name: string): string {
  const start = page.indexOf(`<!-- ${name}:start -->`);
  const end = page.indexOf(`<!-- ${name}:end -->`);
  assert.ok(start !== -1 && end > start, `the page has the ${name} markers`);
  return page.slice(start, end);
}

describe('README stays in step with the code', () => {
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
      'npm scripts missing from the table in docs/development.md',
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
});
