import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { pollUntil } from '../../scripts/lib/poll-until.ts';
import { EventLoopDelayWindow } from '../../src/platform/resilience/event-loop-delay.ts';

const WINDOW_MS = 100;

function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Synchronous work, as module evaluation and schema compilation are at start-up.
  }
}

describe('event-loop delay window', () => {
  it('does not count what blocked the loop before it started (start-up work)', async () => {
    const window = new EventLoopDelayWindow(WINDOW_MS);
    blockFor(600);
    window.start();
    try {
      // Windows complete on a timer and emit nothing: three of them have passed after this.
      await delay(WINDOW_MS * 3);
      assert.ok(window.delayMs < 100, `delay ${window.delayMs} ms after a 600 ms block before start`);
    } finally {
      window.stop();
    }
  });

  it('reports a loop blocked after it started, then recovers', async () => {
    const window = new EventLoopDelayWindow(WINDOW_MS);
    window.start();
    try {
      blockFor(600);
      const blocked = await pollUntil(async () => (window.delayMs > 0 ? window.delayMs : undefined), {
        what: 'the blocked window',
        timeoutMs: 2_000,
        intervalMs: 10,
      });
      assert.ok(blocked > 300, `delay ${blocked} ms after a 600 ms block`);
      const recovered = await pollUntil(async () => (window.delayMs < 50 ? window.delayMs : undefined), {
        what: 'an idle window',
        timeoutMs: 2_000,
        intervalMs: 10,
      });
      assert.ok(recovered < 50);
    } finally {
      window.stop();
    }
  });
});
