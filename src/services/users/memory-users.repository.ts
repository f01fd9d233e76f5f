import {
  EmailTakenError,
  IdempotencyKeyTakenError,
  type IdempotencyRecord,
  type NewUser,
  type User,
  type UserPatch,
  type UsersRepository,
} from './users.repository.ts';

/**
 * An in-process repository with the same contract as the SQL one. It backs `DATABASE_URL=memory://`, which the
 * benchmarks use to measure the HTTP layer alone; data lives only as long as the process. Stored users are frozen,
 * so reads hand them out without a copy: a caller cannot reassign a stored field through what it was given.
 */
export class MemoryUsersRepository implements UsersRepository {
  // UUIDv7 ids sort in creation order, so insertion order is id order for ids made by the service.
  readonly #users = new Map<string, User>();
  readonly #emails = new Map<string, string>();
  readonly #idempotency = new Map<string, IdempotencyRecord>();

  async list(afterId: string | undefined, limit: number): Promise<User[]> {
    const page: User[] = [];
    for (const user of this.#users.values()) {
      if (afterId !== undefined && user.id <= afterId) continue;
      page.push(user);
      if (page.length === limit) break;
    }
    return page;
  }

  async get(id: string): Promise<User | undefined> {
    return this.#users.get(id);
  }

  async create(user: NewUser, idempotency?: Omit<IdempotencyRecord, 'createdAt'>): Promise<User> {
    if (idempotency && this.#idempotency.has(idempotency.key))
      throw new IdempotencyKeyTakenError(idempotency.key);
    const email = user.email.toLowerCase();
    if (this.#emails.has(email)) throw new EmailTakenError(email);
    const stored = Object.freeze({ ...user });
    this.#users.set(user.id, stored);
    this.#emails.set(email, user.id);
    if (idempotency) this.#idempotency.set(idempotency.key, { ...idempotency, createdAt: new Date() });
    return stored;
  }

  async update(id: string, patch: UserPatch): Promise<User | undefined> {
    const current = this.#users.get(id);
    if (!current) return undefined;
    if (patch.email !== undefined) {
      const owner = this.#emails.get(patch.email.toLowerCase());
      if (owner !== undefined && owner !== id) throw new EmailTakenError(patch.email);
      this.#emails.delete(current.email.toLowerCase());
      this.#emails.set(patch.email.toLowerCase(), id);
    }
    const next = Object.freeze({ ...current, ...patch, updated_at: new Date() });
    this.#users.set(id, next);
    return next;
  }

  async delete(id: string): Promise<boolean> {
    const current = this.#users.get(id);
    if (!current) return false;
    this.#users.delete(id);
    this.#emails.delete(current.email.toLowerCase());
    return true;
  }

  async findIdempotencyRecord(key: string, notBefore: Date): Promise<IdempotencyRecord | undefined> {
    const record = this.#idempotency.get(key);
    return record && record.createdAt >= notBefore ? record : undefined;
  }
}
