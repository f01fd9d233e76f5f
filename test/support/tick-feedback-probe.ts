// node --expose-gc --allow-natives-syntax --no-maglev --no-turbofan test/support/tick-feedback-probe.ts [pin]
// Prints V8's description of process.nextTick (its feedback slots among it) after a full collection at a moment
// when no nextTick entry was alive; with `pin`, pinTickObjectShape ran first, as at a service's start.
import { pinTickObjectShape } from '../../src/platform/service/pin-tick-object-shape.ts';

const collect = (globalThis as { gc?: () => void }).gc;
if (!collect) throw new Error('run with --expose-gc');
if (process.argv[2] === 'pin') pinTickObjectShape();
const noop = () => {};
for (let i = 0; i < 2000; i++) process.nextTick(noop);
// Plain immediate callbacks: an await would resume inside the tick queue's processing, an entry still alive.
setImmediate(() => {
  collect();
  collect();
  for (let i = 0; i < 10; i++) process.nextTick(noop);
  setImmediate(() => new Function('f', '%DebugPrint(f)')(process.nextTick));
});
