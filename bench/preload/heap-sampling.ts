import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

/**
 * Preloaded into a server (`--import`), records what it allocates for a while, garbage included: V8's sampling
 * heap profiler from HEAP_SAMPLING_AT ms after start for HEAP_SAMPLING_FOR ms (defaults 8 000 and 4 000), every
 * HEAP_SAMPLING_INTERVAL bytes (4 096), objects collected since kept in the profile. It writes
 * HEAP_SAMPLING_OUT (`heap.heapprofile`; Chrome DevTools' Memory tab opens it), then prints the functions that
 * allocated most. Load the server meanwhile (wrk, `npm run bench`); divide by the requests served for bytes per
 * request.
 */
const at = Number(process.env.HEAP_SAMPLING_AT ?? 8_000);
const span = Number(process.env.HEAP_SAMPLING_FOR ?? 4_000);
const out = process.env.HEAP_SAMPLING_OUT ?? 'heap.heapprofile';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const session = new Session();
session.connect();

async function record(): Promise<void> {
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: Number(process.env.HEAP_SAMPLING_INTERVAL ?? 4_096),
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  await new Promise((resolve) => setTimeout(resolve, span).unref());
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: ProfileNode } };
  writeFileSync(out, JSON.stringify(profile));
  const bytes = new Map<string, number>();
  let total = 0;
  const visit = (node: ProfileNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/node_modules\//, '')}:${lineNumber + 1}`;
    bytes.set(key, (bytes.get(key) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const child of node.children) visit(child);
  };
  visit(profile.head);
  const top = [...bytes].sort((a, b) => b[1] - a[1]).slice(0, 25);
  process.stderr.write(
    `heap sampling: ${total} bytes allocated in ${span} ms, written to ${out}\n${top
      .map(([key, size]) => `${String(size).padStart(12)}  ${key}`)
      .join('\n')}\n`,
  );
}

setTimeout(() => {
  record().catch((error: unknown) => process.stderr.write(`heap sampling failed: ${String(error)}\n`));
}, at).unref();
