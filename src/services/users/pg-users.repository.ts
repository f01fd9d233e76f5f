import type { Generated, Insertable, Kysely, Selectable } from 'kysely';
import { withDatabase } from '../../platform/database/database.ts';
import { type ReusableQuery, reusableQuery } from '../../platform/database/reusable-query.ts';
import {
  EmailTakenError,
  IdempotencyKeyTakenError,
  type IdempotencyRecord,
  type NewUser,
  type User,
  type UserPatch,
  type UserStatus,
  type UsersRepository,
} from './users.repository.ts';

export interface UsersTable {
  id: string;
  name: string;
  email: string;
  status: UserStatus;
  created_at: Date;
  updated_at: Date;
}

export interface IdempotencyKeysTable {
  key: string;
  request_hash: string;
  response_status: number;
  response_body: unknown;
  created_at: Generated<Date>;
}

export interface UsersDatabase {
  users: UsersTable;
  idempotency_keys: IdempotencyKeysTable;
}

const USER_COLUMNS = ['id', 'name', 'email', 'status', 'created_at', 'updated_at'] as const;
/** Named, never `*`: a prepared `select *` fails once a migration changes the table's columns. */
const IDEMPOTENCY_COLUMNS = [
  'key',
  'request_hash',
  'response_status',
  'response_body',
  'created_at',
] as const;
const UNIQUE_VIOLATION = '23505';

/** The SQL repository; one implementation for PostgreSQL and PGlite. */
export class PgUsersRepository implements UsersRepository {
  readonly #db: Kysely<UsersDatabase>;
  // The statements of the busiest requests (GET /users/{id}, GET /users, POST /users), compiled once.
  readonly #selectById: ReusableQuery<{ id: string }, User>;
  readonly #firstPage: ReusableQuery<{ limit: number }, User>;
  readonly #pageAfter: ReusableQuery<{ afterId: string; limit: number }, User>;
  readonly #insert: ReusableQuery<NewUser, User>;

  constructor(db: Kysely<UsersDatabase>) {
    this.#db = db;
    this.#selectById = reusableQuery(db, ['id'], ({ id }) =>
      db.selectFrom('users').select(USER_COLUMNS).where('id', '=', id),
    );
    const page = () => db.selectFrom('users').select(USER_COLUMNS).orderBy('id');
    this.#firstPage = reusableQuery(db, ['limit'], ({ limit }) => page().limit(limit));
    this.#pageAfter = reusableQuery(db, ['afterId', 'limit'], ({ afterId, limit }) =>
      page().where('id', '>', afterId).limit(limit),
    );
    this.#insert = reusableQuery<NewUser, User>(db, USER_COLUMNS, (user: NewUser) =>
      db.insertInto('users').values(user).returning(USER_COLUMNS),
    );
  }

  list(afterId: string | undefined, limit: number): Promise<User[]> {
    return withDatabase(() =>
      afterId === undefined
        ? this.#firstPage.execute({ limit })
        : this.#pageAfter.execute({ afterId, limit }),
    );
  }

  get(id: string): Promise<User | undefined> {
    return withDatabase(() => this.#selectById.executeTakeFirst({ id }));
  }

  create(user: NewUser, idempotency?: Omit<IdempotencyRecord, 'createdAt'>): Promise<User> {
    return withDatabase(() =>
      translateUniqueViolation(async () => {
        if (idempotency === undefined) return this.#insert.executeTakeFirstOrThrow(user);
        return this.#db.transaction().execute(async (trx) => {
          // The key goes in first: a concurrent twin blocks on it and then fails, instead of racing on the email.
          const record: Insertable<IdempotencyKeysTable> = {
            key: idempotency.key,
            request_hash: idempotency.requestHash,
            response_status: idempotency.responseStatus,
            response_body: JSON.stringify(idempotency.responseBody),
          };
          await trx.insertInto('idempotency_keys').values(record).execute();
          return trx.insertInto('users').values(user).returning(USER_COLUMNS).executeTakeFirstOrThrow();
        });
      }),
    );
  }

  update(id: string, patch: UserPatch): Promise<User | undefined> {
    return withDatabase(() =>
      translateUniqueViolation(() =>
        this.#db
          .updateTable('users')
          .set({ ...patch, updated_at: new Date() })
          .where('id', '=', id)
          .returning(USER_COLUMNS)
          .executeTakeFirst(),
      ),
    );
  }

  delete(id: string): Promise<boolean> {
    return withDatabase(async () => {
      const result = await this.#db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    });
  }

  findIdempotencyRecord(key: string, notBefore: Date): Promise<IdempotencyRecord | undefined> {
    return withDatabase(async () => {
      const row = await this.#db
        .selectFrom('idempotency_keys')
        .select(IDEMPOTENCY_COLUMNS)
        .where('key', '=', key)
        .where('created_at', '>=', notBefore)
        .executeTakeFirst();
      return row === undefined ? undefined : toIdempotencyRecord(row);
    });
  }
}

function toIdempotencyRecord(row: Selectable<IdempotencyKeysTable>): IdempotencyRecord {
  return {
    key: row.key,
    requestHash: row.request_hash,
    responseStatus: row.response_status,
    responseBody: row.response_body,
    createdAt: row.created_at,
  };
}

async function translateUniqueViolation<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    const { code, constraint } = error as { code?: string; constraint?: string };
    if (code === UNIQUE_VIOLATION) {
      if (constraint === 'idempotency_keys_pkey' || /idempotency_keys/.test((error as Error).message)) {
        throw new IdempotencyKeyTakenError('idempotency key already stored', { cause: error });
      }
      throw new EmailTakenError('email already taken', { cause: error });
    }
    throw error;
  }
}
