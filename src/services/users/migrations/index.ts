import type { Migration } from 'kysely';
import * as createUsers from './001_create_users.ts';

/** Every migration, in order. Names sort lexically, so keep the numeric prefix. */
export const usersMigrations: Record<string, Migration> = {
  '001_create_users': createUsers,
};
