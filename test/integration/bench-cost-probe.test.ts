import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const PROBE = resolve(import.meta.dirname, '../../bench/cost-probe.ts');

describe('benchmark cost probe', () => {
  it('measures a part against its baseline and prints one JSON line', async () => {
    const { stdout } = await exec(process.execPath, [PROBE, 'http-metrics']);
    const figures = JSON.parse(stdout.trim()) as { part: string; ns: number; baselineNs: number };
    assert.equal(figures.part, 'http-metrics');
    assert.ok(Number.isFinite(figures.ns) && figures.ns > 0, `part ${figures.ns} ns`);
    assert.ok(
      Number.isFinite(figures.baselineNs) && figures.baselineNs > 0,
      `baseline ${figures.baselineNs} ns`,
    );
  });

  it('refuses an unknown part with its usage', async () => {
    await assert.rejects(
      exec(process.execPath, [PROBE, 'everything']),
      (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 2);
        assert.match(error.stderr, /usage: node bench\/cost-probe\.ts <log-context\|tracing-unsampled/);
        return true;
      },
    );
  });
});
