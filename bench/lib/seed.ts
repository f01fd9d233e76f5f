/** Creates users through the contender's own POST /users and returns their ids, for the GET-by-id scenario. */
export async function seedUsers(url: string, count: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: `Seed User ${i}`, email: `seed-${tag}-${i}@bench.example` }),
    });
    const body = (await response.json()) as { id?: string };
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
