import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KubeletVolume } from '../support/kubelet-volume.ts';
import { scrape, sumOf } from '../support/metrics-text.ts';
import { type RunningService, spawnService } from '../support/spawn-service.ts';

/**
 * The canary identity as the prod pods get it: the pod label `canary` as the file CANARY in the downward-API
 * volume CONFIG_DIR names (deploy/k8s/components/canary). Argo relabels a promoted pod in place, the kubelet swaps
 * the file, and the service's HTTP metrics follow without a restart. A client's x-canary header counts for nothing.
 */
describe('canary identity from the pod label, followed live', () => {
  let root: string;
  let volume: KubeletVolume;
  let service: RunningService;

  const requests = async (canary: 'true' | 'false') =>
    sumOf(await scrape(service.url), 'http_requests_total', { route: '/users', canary });
  const get = async (headers: Record<string, string> = {}) => {
    const response = await fetch(`${service.url}/users?limit=1`, { headers });
    await response.arrayBuffer();
    assert.equal(response.status, 200);
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'pod-identity-'));
    volume = new KubeletVolume(join(root, 'pod'));
    // The downward API writes the bare label value, no trailing newline.
    await volume.update({ CANARY: 'true' });
    service = await spawnService({
      env: { DATABASE_URL: 'memory://', CONFIG_DIR: volume.directory, CONFIG_POLL_INTERVAL_MS: '1000' },
    });
  });
  after(async () => {
    await service?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('a canary pod counts its requests canary, staff and weighted traffic alike', async () => {
    await get({ cookie: 'user-group=canary' });
    await get();
    assert.equal(await requests('true'), 2);
    assert.equal(await requests('false'), 0);
  });

  it('promoted in place (label canary=false), it counts stable from then on, with no restart', async () => {
    await volume.update({ CANARY: 'false' });
    await service.waitForLine((line) => /configuration reloaded/.test(line.message), 10_000);
    await get();
    assert.equal(await requests('false'), 1);
    assert.equal(await requests('true'), 2);
  });

  it("a client's x-canary header does not make a stable pod's request canary", async () => {
    await get({ 'x-canary': 'true' });
    assert.equal(await requests('true'), 2);
    assert.equal(await requests('false'), 2);
  });
});
