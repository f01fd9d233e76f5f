import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  capabilitiesOn,
  durationSeconds,
  loadPolicies,
  loadRoles,
  parsePolicy,
} from '../support/vault-policies.ts';

/**
 * The TTL tiers of deploy/vault: dev 1 h on secret/dev/*, prod reader 30 min on secret/prod/readonly/*, prod admin
 * 10 min on secret/prod/* (staging mirrors the prod reader). Each role's tokens live exactly its tier's TTL, and
 * only the admin tier can write.
 */
const TIERS: Record<string, { ttlSeconds: number; reads: string; writes: boolean }> = {
  'user-service-dev': { ttlSeconds: 3_600, reads: 'secret/data/dev/user-service/database', writes: false },
  'user-service-staging-reader': {
    ttlSeconds: 1_800,
    reads: 'secret/data/staging/readonly/user-service/database',
    writes: false,
  },
  'user-service-prod-reader': {
    ttlSeconds: 1_800,
    reads: 'secret/data/prod/readonly/user-service/database',
    writes: false,
  },
  'user-service-prod-admin': {
    ttlSeconds: 600,
    reads: 'secret/data/prod/user-service/database',
    writes: true,
  },
};
const WRITE = ['create', 'update', 'delete', 'patch', 'sudo'];
const policies = loadPolicies();
const rolesByMethod = { kubernetes: loadRoles('kubernetes'), approle: loadRoles('approle') };

describe('Vault policies and roles (deploy/vault)', () => {
  it('there is one policy per tier, and every policy parses completely', () => {
    assert.deepEqual([...policies.keys()].sort(), Object.keys(TIERS).sort());
    for (const [name, rules] of policies) assert.ok(rules.length > 0, `${name} has no rule`);
  });

  for (const [tier, expected] of Object.entries(TIERS)) {
    it(`${tier}: reads its secrets, ${expected.writes ? 'writes them' : 'writes nothing'}`, () => {
      const rules = policies.get(tier)!;
      assert.ok(capabilitiesOn([rules], expected.reads).has('read'), `${tier} cannot read ${expected.reads}`);
      const writes = rules.filter((rule) => rule.capabilities.some((c) => WRITE.includes(c)));
      if (expected.writes) assert.ok(capabilitiesOn([rules], expected.reads).has('update'));
      else assert.deepEqual(writes, [], `${tier} must be read-only`);
      for (const rule of rules)
        assert.ok(!rule.capabilities.includes('sudo'), `${tier}: sudo on ${rule.path}`);
    });
  }

  it('environments do not cross: dev and staging read nothing of prod, the prod reader nothing outside readonly', () => {
    const prodSecret = 'secret/data/prod/user-service/database';
    const prodReadonly = 'secret/data/prod/readonly/user-service/database';
    for (const tier of ['user-service-dev', 'user-service-staging-reader'])
      for (const path of [prodSecret, prodReadonly])
        assert.equal(capabilitiesOn([policies.get(tier)!], path).size, 0, `${tier} reaches ${path}`);
    assert.equal(capabilitiesOn([policies.get('user-service-prod-reader')!], prodSecret).size, 0);
    assert.equal(
      capabilitiesOn([policies.get('user-service-prod-reader')!], 'secret/data/dev/user-service/database')
        .size,
      0,
    );
  });

  for (const [method, roles] of Object.entries(rolesByMethod)) {
    it(`${method} roles: tokens live exactly their tier's TTL and use existing policies`, () => {
      assert.ok(roles.size > 0);
      for (const [name, role] of roles) {
        assert.deepEqual(role.token_policies, [name], `${name} takes the policy of its own tier`);
        const tier = TIERS[name];
        assert.ok(tier, `${name} is no tier`);
        assert.equal(durationSeconds(role.token_ttl), tier.ttlSeconds, `${name} token_ttl`);
        assert.equal(durationSeconds(role.token_max_ttl), tier.ttlSeconds, `${name} token_max_ttl`);
      }
    });
  }

  it('pods never get the admin tier; Kubernetes roles are bound to one namespace and the service account', () => {
    for (const [name, role] of rolesByMethod.kubernetes) {
      assert.ok(!name.endsWith('-admin'), `${name}: admin tokens are for people and pipelines`);
      assert.deepEqual(role.bound_service_account_names, ['user-service']);
      assert.equal(role.bound_service_account_namespaces?.length, 1, `${name}: one namespace`);
    }
    const admin = rolesByMethod.approle.get('user-service-prod-admin');
    assert.ok(admin, 'the admin tier logs in with AppRole');
    assert.equal(admin.secret_id_num_uses, 1, 'an admin secret_id is good for one login');
    assert.ok(durationSeconds(admin.secret_id_ttl ?? '0s') <= 600);
  });

  it('the policy parser refuses what it does not understand', () => {
    assert.throws(() =>
      parsePolicy('path "secret/*" { capabilities = ["read"] }\npath "x" { policy = "write" }'),
    );
    assert.throws(() => parsePolicy('path "secret/*" { capabilities = [read] }'));
    assert.deepEqual(parsePolicy('# c\npath "a/*" {\n  capabilities = ["read", "list"]\n}\n'), [
      { path: 'a/*', capabilities: ['read', 'list'] },
    ]);
  });
});
