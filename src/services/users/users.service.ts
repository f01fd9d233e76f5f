import { createHash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { badRequest, conflict, notFound, unprocessable } from '../../platform/errors/app-error.ts';
import {
  EmailTakenError,
  IdempotencyKeyTakenError,
  type User,
  type UserPatch,
  type UserStatus,
  type UsersRepository,
} from './users.repository.ts';

/**
 * A timestamp of a response body: a Date as read from the repository, or its ISO 8601 string in a body replayed from
 * the idempotency store. The route's response serializer (format `date-time`) writes both as the same string, and
 * writes a Date without first making the string apart (a third less time per user than formatting it here).
 */
export type Timestamp = Date | string;

export interface UserJson {
  id: string;
  name: string;
  email: string;
  status: UserStatus;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface UserPage {
  items: UserJson[];
  next_cursor: string | null;
}

export interface CreateOutcome {
  user: UserJson;
  /** True when an earlier request with the same Idempotency-Key created the user and this is its response. */
  replayed: boolean;
}

/**
 * Decides the status a new user gets. The default admits everyone; a risk check (a later concern) can deny
 * (a business error thrown from here) or degrade to `pending_review`.
 */
export type AdmissionPolicy = (candidate: { name: string; email: string }) => Promise<UserStatus>;

export interface UsersServiceOptions {
  repository: UsersRepository;
  idempotencyTtlMs: number;
  admission?: AdmissionPolicy;
  clock?: () => Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class UsersService {
  readonly #repository: UsersRepository;
  readonly #ttlMs: number;
  readonly #admission: AdmissionPolicy;
  readonly #clock: () => Date;

  constructor(options: UsersServiceOptions) {
    this.#repository = options.repository;
    this.#ttlMs = options.idempotencyTtlMs;
    this.#admission = options.admission ?? (async () => 'active');
    this.#clock = options.clock ?? (() => new Date());
  }

  async list(limit: number, cursor: string | undefined): Promise<UserPage> {
    const afterId = cursor === undefined ? undefined : decodeCursor(cursor);
    // One extra row tells whether another page exists without a count query.
    const rows = await this.#repository.list(afterId, limit + 1);
    const items = rows.slice(0, limit).map(toUserJson);
    const last = items.at(-1);
    return { items, next_cursor: rows.length > limit && last ? encodeCursor(last.id) : null };
  }

  async get(id: string): Promise<UserJson> {
    const user = await this.#repository.get(id);
    if (!user) throw notFound(`User ${id} does not exist.`);
    return toUserJson(user);
  }

  async create(input: { name: string; email: string }, idempotencyKey?: string): Promise<CreateOutcome> {
    // Only a request with an Idempotency-Key needs its hash and its stored answer.
    const idempotent =
      idempotencyKey === undefined ? undefined : { key: idempotencyKey, requestHash: hashRequest(input) };
    if (idempotent) {
      const replay = await this.#replay(idempotent.key, idempotent.requestHash);
      if (replay) return replay;
    }
    const status = await this.#admission(input);
    const now = this.#clock();
    const user: User = {
      id: uuidv7(),
      name: input.name,
      email: input.email,
      status,
      created_at: now,
      updated_at: now,
    };
    try {
      const stored = await this.#repository.create(
        user,
        idempotent && { ...idempotent, responseStatus: 201, responseBody: toUserJson(user) },
      );
      return { user: toUserJson(stored), replayed: false };
    } catch (error) {
      if (error instanceof EmailTakenError) throw emailTaken(input.email);
      if (error instanceof IdempotencyKeyTakenError && idempotent) {
        const replay = await this.#replay(idempotent.key, idempotent.requestHash);
        if (replay) return replay;
      }
      throw error;
    }
  }

  async update(id: string, patch: UserPatch): Promise<UserJson> {
    try {
      const user = await this.#repository.update(id, patch);
      if (!user) throw notFound(`User ${id} does not exist.`);
      return toUserJson(user);
    } catch (error) {
      if (error instanceof EmailTakenError) throw emailTaken(patch.email ?? '');
      throw error;
    }
  }

  async delete(id: string): Promise<void> {
    if (!(await this.#repository.delete(id))) throw notFound(`User ${id} does not exist.`);
  }

  async #replay(key: string, requestHash: string): Promise<CreateOutcome | undefined> {
    const notBefore = new Date(this.#clock().getTime() - this.#ttlMs);
    const record = await this.#repository.findIdempotencyRecord(key, notBefore);
    if (!record) return undefined;
    if (record.requestHash !== requestHash) {
      throw unprocessable(
        'idempotency-key-reused',
        'This Idempotency-Key was already used with a different request body; use a new key for a new request.',
      );
    }
    return { user: record.responseBody as UserJson, replayed: true };
  }
}

function emailTaken(email: string) {
  return conflict(`A user with email ${email} already exists (emails are compared case-insensitively).`, [
    { field: 'body/email', message: 'already taken' },
  ]);
}

export function toUserJson(user: User): UserJson {
  return {
    id: user.id,
    name: user.name,
    email: user.email,
    status: user.status,
    created_at: user.created_at,
    updated_at: user.updated_at,
  };
}

export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!UUID.test(id)) {
    throw badRequest('The cursor is not one this service issued.', [
      { field: 'querystring/cursor', message: 'invalid cursor' },
    ]);
  }
  return id;
}

function hashRequest(input: { name: string; email: string }): string {
  return createHash('sha256')
    .update(JSON.stringify([input.name, input.email]))
    .digest('hex');
}
