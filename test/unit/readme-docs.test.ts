import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { collectRows, loadServiceSchemas, renderReadme, renderTable } from '../../scripts/docs.ts';

const ROOT = join(import.meta.dirname, '..', '..');

function section(readme: string, name: string): string {
  const start = readme.indexOf(`<!-- ${name}:start -->`);
  const end = readme.indexOf(`<!-- ${name}:end -->`);
  assert.ok(start !== -1 && end > start, `README.md has the ${name} markers`);
  return readme.slice(start, end);
}

describe('README stays in step with the code', () => {
  it('documents every config key of every service exactly as the schemas define it', async () => {
    const { current, expected } = await renderReadme();
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
    const table = section(await readFile(join(ROOT, 'README.md'), 'utf8'), 'npm-scripts');
    const documented = [...table.matchAll(/^\| `([^`]+)` \|/gm)].map((match) => match[1]!);
    const scripts = Object.keys(packageJson.scripts);
    assert.deepEqual(
      scripts.filter((name) => !documented.includes(name)),
      [],
      'npm scripts missing from the README table',
    );
    assert.deepEqual(
      documented.filter((name) => !scripts.includes(name)),
      [],
      'README lists npm scripts that package.json lacks',
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
