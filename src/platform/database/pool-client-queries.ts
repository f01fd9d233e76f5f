import type { PostgresPool, PostgresPoolClient } from 'kysely';

/**
 * The pool Kysely queries through, with each connection's `query` replaced by `queryOf(client)`. The pool hands
 * the same connections out again and again, so each gets its replacement once, at its first checkout.
 */
export function withClientQueries<C extends { release(destroy?: boolean): void }>(
  pool: { connect(): Promise<C>; end(): Promise<void> },
  queryOf: (client: C) => PostgresPoolClient['query'],
): PostgresPool {
  const wrapped = new WeakMap<C, PostgresPoolClient>();
  const wrap = (client: C): PostgresPoolClient => {
    let wrapper = wrapped.get(client);
    if (wrapper === undefined) {
      wrapper = { query: queryOf(client), release: (destroy?: boolean) => client.release(destroy) };
      wrapped.set(client, wrapper);
    }
    return wrapper;
  };
  return {
    connect: async () => wrap(await pool.connect()),
    end: () => pool.end(),
  };
}
