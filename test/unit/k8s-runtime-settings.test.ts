import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { parseEnv } from 'node:util';
import { deploymentContainer, dockerfileEnv } from '../../bench/lib/pod-limits.ts';
import { usersConfigSchema } from '../../src/services/users/config.ts';

const DOCKERFILE = 'deploy/docker/Dockerfile';
const DEPLOYMENT = 'deploy/k8s/base/deployment.yaml';
const BASE_ENV = 'deploy/k8s/base/user-service.env';

/** Settings the image and the base manifests both carry: they must not drift apart, nor from the code. */
describe('runtime settings: image, base manifests and config schema agree', () => {
  it('the Deployment runs with the image NODE_OPTIONS', async () => {
    const image = dockerfileEnv(await readFile(DOCKERFILE, 'utf8'), 'NODE_OPTIONS');
    const container = deploymentContainer(await readFile(DEPLOYMENT, 'utf8'));
    const deployment = container.env?.find((entry) => entry.name === 'NODE_OPTIONS')?.value;
    assert.ok(image, 'the image sets NODE_OPTIONS');
    assert.equal(deployment, image);
  });

  it('the trace sampling ratio is the schema default in the image and in the base ConfigMap', async () => {
    const { properties } = usersConfigSchema as unknown as {
      properties: Record<string, { default?: unknown }>;
    };
    const schemaDefault = Number(properties.OTEL_TRACES_SAMPLER_ARG?.default);
    assert.ok(schemaDefault > 0 && schemaDefault < 1, 'production samples a share of new traces');
    const image = dockerfileEnv(await readFile(DOCKERFILE, 'utf8'), 'OTEL_TRACES_SAMPLER_ARG');
    const base = parseEnv(await readFile(BASE_ENV, 'utf8')).OTEL_TRACES_SAMPLER_ARG;
    assert.equal(Number(image), schemaDefault);
    assert.equal(Number(base), schemaDefault);
  });

  it('the image reads the compile cache from the directory its build warms', async () => {
    const dockerfile = await readFile(DOCKERFILE, 'utf8');
    const cache = dockerfileEnv(dockerfile, 'NODE_COMPILE_CACHE');
    assert.equal(cache, '/app/compile-cache');
    assert.match(dockerfile, /COPY --from=build --chown=65532:65532 \/out\/compile-cache \.\/compile-cache/);
    assert.match(dockerfile, /^USER 65532:65532\n(?:#.*\n)*RUN \[[^\]]*warm-compile-cache\.mjs/m);
  });
});
