import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isoTimestamp } from '../../src/services/users/iso-timestamp.ts';

describe('isoTimestamp', () => {
  it('is Date#toISOString at the calendar edges', () => {
    for (const ms of [
      0,
      Date.UTC(1970, 0, 1, 0, 0, 0, 1),
      Date.UTC(1999, 11, 31, 23, 59, 59, 999),
      Date.UTC(2000, 1, 29, 12, 0, 0, 5),
      Date.UTC(2100, 1, 28, 23, 59, 59, 99),
      Date.UTC(2100, 2, 1),
      Date.UTC(2400, 1, 29),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
    ]) {
      const date = new Date(ms);
      assert.equal(isoTimestamp(date), date.toISOString());
    }
  });

  it('is Date#toISOString for a spread of instants from 1970 to 9999', () => {
    // A fixed pseudo-random walk (MINSTD): reproducible, and dense enough to cross every month and leap rule.
    let seed = 12_345;
    for (let i = 0; i < 200_000; i++) {
      seed = (seed * 48_271) % 2_147_483_647;
      const date = new Date(Math.floor((seed / 2_147_483_647) * 253_402_300_800_000));
      assert.equal(isoTimestamp(date), date.toISOString());
    }
  });

  it('leaves dates outside 1970..9999 to the built-in, and fails as it does on an invalid date', () => {
    for (const ms of [-1, Date.UTC(1900, 0, 1), Date.UTC(10_000, 0, 1), -62_198_755_200_000]) {
      const date = new Date(ms);
      assert.equal(isoTimestamp(date), date.toISOString());
    }
    assert.throws(() => isoTimestamp(new Date(Number.NaN)), RangeError);
  });
});
