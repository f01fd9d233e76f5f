import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryUsersRepository } from '../../src/services/users/memory-users.repository.ts';

const user = (id: string, email: string) => {
  const now = new Date('2026-01-02T03:04:05.678Z');
  return { id, name: 'Ann', email, status: 'active' as const, created_at: now, updated_at: now };
};

describe('MemoryUsersRepository', () => {
  it('hands out stored users without copying them, frozen, so no caller can change the store', async () => {
    const repository = new MemoryUsersRepository();
    const created = await repository.create(user('01', 'ann@example.com'));
    const read = await repository.get('01');
    assert.equal(read, created, 'the stored object itself');
    assert.ok(Object.isFrozen(read));
    assert.throws(() => {
      (read as { name: string }).name = 'Mallory';
    }, TypeError);
    assert.equal((await repository.get('01'))?.name, 'Ann');
  });

  it('does not keep the object it was given: a caller changing it later changes nothing stored', async () => {
    const repository = new MemoryUsersRepository();
    const given = user('02', 'bob@example.com');
    await repository.create(given);
    given.name = 'Changed';
    assert.equal((await repository.get('02'))?.name, 'Ann');
  });

  it('an update stores a new frozen user and leaves the one handed out before as it was', async () => {
    const repository = new MemoryUsersRepository();
    const before = await repository.create(user('03', 'cy@example.com'));
    const after = await repository.update('03', { name: 'Cyrus' });
    assert.equal(before.name, 'Ann');
    assert.equal(after?.name, 'Cyrus');
    assert.ok(Object.isFrozen(after));
    assert.deepEqual(
      (await repository.list(undefined, 10)).map((u) => u.name),
      ['Cyrus'],
    );
  });
});
