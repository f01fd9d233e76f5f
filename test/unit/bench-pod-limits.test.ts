import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { cfsQuotaUs, parseKeyValues } from '../../bench/lib/cgroup.ts';
import {
  deploymentContainer,
  dockerfileEnv,
  parseCpuQuantity,
  parseMemoryQuantity,
  readPodLimits,
} from '../../bench/lib/pod-limits.ts';

describe('benchmark pod limits', () => {
  it('parses Kubernetes CPU and memory quantities', () => {
    assert.equal(parseCpuQuantity('200m'), 0.2);
    assert.equal(parseCpuQuantity('1.5'), 1.5);
    assert.equal(parseCpuQuantity(2), 2);
    assert.equal(parseMemoryQuantity('128Mi'), 134_217_728);
    assert.equal(parseMemoryQuantity('1G'), 1e9);
    assert.equal(parseMemoryQuantity('1024'), 1024);
    assert.throws(() => parseCpuQuantity('lots'), /not a CPU quantity/);
    assert.throws(() => parseMemoryQuantity('128MB'), /not a memory quantity/);
  });

  it('finds the Deployment container among several documents', () => {
    const manifest = `kind: Service
metadata: { name: x }
---
kind: Deployment
spec:
  template:
    spec:
      containers:
        - name: sidecar
        - name: user-service
          resources: { limits: { cpu: 250m, memory: 96Mi } }
`;
    assert.deepEqual(deploymentContainer(manifest).resources, { limits: { cpu: '250m', memory: '96Mi' } });
    assert.throws(() => deploymentContainer('kind: Service\n'), /no Deployment container/);
  });

  it('reads ENV values across continuation lines and quotes', () => {
    const dockerfile = 'FROM x\nENV A=1 \\\n    NODE_OPTIONS="--a --b" \\\n    C=3\nENV D=4\n';
    assert.equal(dockerfileEnv(dockerfile, 'NODE_OPTIONS'), '--a --b');
    assert.equal(dockerfileEnv(dockerfile, 'C'), '3');
    assert.equal(dockerfileEnv(dockerfile, 'D'), '4');
    assert.equal(dockerfileEnv(dockerfile, 'E'), undefined);
  });

  it('reads the base manifests of this repository', async () => {
    const limits = await readPodLimits(resolve(import.meta.dirname, '../..'));
    assert.ok(limits.cpus > 0 && limits.cpus <= 64, `cpus ${limits.cpus}`);
    assert.ok(limits.memoryBytes >= 16 * 1024 ** 2, `memory ${limits.memoryBytes}`);
    assert.ok(limits.nodeOptions.every((o) => o.startsWith('--')));
  });

  it('turns a CPU share into a CFS quota and reads cgroup key-value files', () => {
    assert.equal(cfsQuotaUs(0.2), 20_000);
    assert.equal(cfsQuotaUs(0.001), 1000, 'the kernel refuses quotas under 1 ms');
    assert.deepEqual(parseKeyValues('oom_kill_disable 0\nunder_oom 0\noom_kill 2\n'), {
      oom_kill_disable: 0,
      under_oom: 0,
      oom_kill: 2,
    });
  });
});
