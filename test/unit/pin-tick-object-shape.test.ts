import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pinnedTickObject, pinTickObjectShape } from '../../src/platform/service/pin-tick-object-shape.ts';

const probe = fileURLToPath(new URL('../support/tick-feedback-probe.ts', import.meta.url));

/**
 * The states of nextTick's property-definition feedback after an idle full collection. The optimising compilers
 * are off: while optimised code for nextTick exists it keeps the maps alive, and the collections that matter come
 * before it (start-up) or after it was thrown away; without them the outcome would depend on a background compile.
 */
async function tickLiteralFeedback(pin: boolean): Promise<string[]> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--expose-gc', '--allow-natives-syntax', '--no-maglev', '--no-turbofan', probe, ...(pin ? ['pin'] : [])],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return [...stdout.matchAll(/- slot #\d+ DefineKeyedOwnPropertyInLiteral (\w+)/g)].map(
    (match) => match[1] as string,
  );
}

describe('pinTickObjectShape', () => {
  it('holds one nextTick queue entry', () => {
    pinTickObjectShape();
    const entry = pinnedTickObject() as Record<string | symbol, unknown>;
    assert.equal(typeof entry.callback, 'function');
    assert.ok(Object.getOwnPropertySymbols(entry).length >= 3, 'async ids and context frame are symbol keys');
    pinTickObjectShape();
    assert.equal(pinnedTickObject(), entry, 'a second call keeps the first entry');
  });

  it('without it, a full collection while no entry is alive turns nextTick megamorphic (the V8 behaviour it works around)', async () => {
    const states = await tickLiteralFeedback(false);
    assert.ok(states.length >= 3, `feedback slots found: ${states.join(', ')}`);
    assert.ok(
      states.includes('MEGAMORPHIC'),
      `expected megamorphic slots; if V8 keeps them monomorphic now, the pin is no longer needed: ${states.join(', ')}`,
    );
  });

  it('with it, the same collection leaves every property definition in nextTick monomorphic', async () => {
    const states = await tickLiteralFeedback(true);
    assert.ok(states.length >= 3, `feedback slots found: ${states.join(', ')}`);
    assert.deepEqual(
      states.filter((state) => state !== 'MONOMORPHIC'),
      [],
      states.join(', '),
    );
  });
});
