import { setTimeout as sleep } from 'node:timers/promises';

/** A CPU-limited server may shed load (503) just after it turns ready; seeding waits that out, this long at most. */
const SHED_WAIT_MS = 10_000;

/** Creates users through the contender's own POST /users and returns their ids, for the GET-by-id scenario. */
export async function seedUsers(url: string, count: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  const deadline = performance.now() + SHED_WAIT_MS;
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: `Seed User ${i}`, email: `seed-${tag}-${i}@bench.example` }),
    });
    const body = (await response.json().catch(() => ({}))) as { id?: string };
    if (response.status === 503 && performance.now() < deadline) {
      i -= 1;
      await sleep(50);
      continue;
    }
    if (response.status !== 201 || !body.id) throw new Error(`seeding ${url} failed: ${response.status}`);
    ids.push(body.id);
  }
  return ids;
}

/** GET /metrics of a user-service after its runs: proof that metrics were on while it was measured. */
export async function metricsSummary(url: string, label: string): Promise<string> {
  try {
    const response = await fetch(`${url}/metrics`);
    const text = await response.text();
    if (response.status !== 200) return `${label}: GET /metrics answered ${response.status}`;
    const series = text.split('\n').filter((l) => l.startsWith('http_requests_total')).length;
    return `${label}: /metrics served ${series} http_requests_total series`;
  } catch (error) {
    return `${label}: /metrics unreachable (${(error as Error).message})`;
  }
}
