export type UserStatus = 'active' | 'pending_review';

export interface User {
  id: string;
  name: string;
  email: string;
  status: UserStatus;
  created_at: Date;
  updated_at: Date;
}

/** A user as the service builds it before storing; timestamps are set by the service so a response can be remembered. */
export type NewUser = User;

export type UserPatch = Partial<Pick<User, 'name' | 'email'>>;

/** A remembered response to a POST carrying an Idempotency-Key. */
export interface IdempotencyRecord {
  key: string;
  requestHash: string;
  responseStatus: number;
  responseBody: unknown;
  createdAt: Date;
}

/** Raised by repositories when an email is already taken, compared case-insensitively. */
export class EmailTakenError extends Error {
  override readonly name = 'EmailTakenError';
}

/** Raised when another request stored the same Idempotency-Key first. */
export class IdempotencyKeyTakenError extends Error {
  override readonly name = 'IdempotencyKeyTakenError';
}

/** Storage the user service needs; the SQL and in-memory implementations must behave identically. */
export interface UsersRepository {
  /** Users ordered by id (UUIDv7, so by creation time), strictly after `afterId`, at most `limit`. */
  list(afterId: string | undefined, limit: number): Promise<User[]>;
  get(id: string): Promise<User | undefined>;
  /** Inserts the user and, when given, the idempotency record, atomically. */
  create(user: NewUser, idempotency?: Omit<IdempotencyRecord, 'createdAt'>): Promise<User>;
  update(id: string, patch: UserPatch): Promise<User | undefined>;
  delete(id: string): Promise<boolean>;
  findIdempotencyRecord(key: string, notBefore: Date): Promise<IdempotencyRecord | undefined>;
}
