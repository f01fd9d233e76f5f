import { createHook } from 'node:async_hooks';

let pinned: object | undefined;

/** The queue entry `pinTickObjectShape` holds, if it has run. */
export function pinnedTickObject(): object | undefined {
  return pinned;
}

/**
 * Keeps one of `process.nextTick`'s queue entries alive for the life of the process.
 *
 * nextTick builds every entry as an object literal whose first keys are symbols. For each such key V8 records the
 * hidden class (map) the object had when the key was defined, holds that map weakly, and has no polymorphic state
 * for this kind of feedback: a second map makes it megamorphic for good. A full garbage collection at a moment
 * when no entry is alive (during start-up, or in any idle spell later) frees those maps; the next entry is built
 * on new ones, and from then on every nextTick defines four of its properties through the V8 runtime. An HTTP
 * request takes about six nextTicks in Node's stream and HTTP code: 25 % of the CPU of a GET by id
 * (docs/performance.md). A live entry keeps its map, and through the maps' back pointers the maps before it.
 *
 * It has to run before the first full collection: first thing at start-up.
 */
export function pinTickObjectShape(): void {
  if (pinned) return;
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type === 'TickObject') pinned ??= resource;
    },
  });
  hook.enable();
  try {
    process.nextTick(noop);
  } finally {
    hook.disable();
  }
}

function noop(): void {}
