import { randomUUID } from 'node:crypto';
import type { WarmUpPaths } from '../../platform/http/warm-up.ts';

/** Users whose reads join the warm-up cycle, taken from the first page: enough for the by-id path to be hot. */
const USERS_READ = 5;

/**
 * The read paths the start-up warm-up cycles through: a page of the list, users found on it (the by-id route's
 * 200 path and its serialiser), and an id that does not exist (the 404 problem path). Reads only: the warm-up
 * must not change the data it runs against.
 */
export const usersWarmUpPaths: WarmUpPaths = async (get) => {
  const page = '/users?limit=20';
  const listed = await get(page);
  const ids =
    listed.status === 200
      ? (JSON.parse(listed.body) as { items: { id: string }[] }).items.slice(0, USERS_READ).map((u) => u.id)
      : [];
  return [page, ...ids.map((id) => `/users/${id}`), `/users/${randomUUID()}`];
};
