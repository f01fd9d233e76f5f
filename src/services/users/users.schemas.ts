import { type Static, Type } from 'typebox';

// Printable text only: control characters (including newlines) never make it into a name.
const NAME_PATTERN = '^(?!\\s*$)[^\\p{Cc}]+$';

export const UserId = Type.String({ format: 'uuid', description: 'UUIDv7: time-ordered.' });

/**
 * An ISO 8601 string in the document; handlers may return the Date itself, which the response serializer writes as
 * that same string (users.service.ts `Timestamp`).
 */
const Timestamp = Type.Unsafe<Date | string>(Type.String({ format: 'date-time' }));

export const UserSchema = Type.Object(
  {
    id: UserId,
    name: Type.String(),
    email: Type.String({ format: 'email' }),
    status: Type.Enum(['active', 'pending_review'], {
      description: '`pending_review` when the risk check could not be completed at creation.',
    }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'User' },
);

const Name = Type.String({ minLength: 1, maxLength: 200, pattern: NAME_PATTERN });
const Email = Type.String({ format: 'email', maxLength: 254 });

export const CreateUserBody = Type.Object({ name: Name, email: Email }, { additionalProperties: false });
export type CreateUserBody = Static<typeof CreateUserBody>;

export const PatchUserBody = Type.Object(
  { name: Type.Optional(Name), email: Type.Optional(Email) },
  { additionalProperties: false, minProperties: 1 },
);
export type PatchUserBody = Static<typeof PatchUserBody>;

export const UserParams = Type.Object({ id: UserId }, { additionalProperties: false });

export const ListUsersQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })),
  },
  { additionalProperties: false },
);

export const UserList = Type.Object({
  items: Type.Array(UserSchema),
  next_cursor: Type.Union([Type.String(), Type.Null()], {
    description: 'Pass as `cursor` for the next page.',
  }),
});

export const IdempotencyKeyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: '^[\\x21-\\x7E]+$',
      description: 'Retry-safe POST.',
    }),
  ),
});

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    instance: Type.String(),
    trace_id: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details.' },
);
