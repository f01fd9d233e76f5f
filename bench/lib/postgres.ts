import pg from 'pg';

/**
 * A database of the benchmark's own on the PostgreSQL server of TEST_DATABASE_URL, recreated for every round so
 * rounds start equal, and dropped at the end. Other people's data on that server is never touched.
 */
export class BenchDatabase {
  readonly #adminUrl: string;
  readonly name: string;

  constructor(adminUrl: string, name = `user_service_bench_${process.pid}`) {
    this.#adminUrl = adminUrl;
    this.name = name;
  }

  get url(): string {
    const url = new URL(this.#adminUrl);
    url.pathname = `/${this.name}`;
    return url.toString();
  }

  async recreate(): Promise<void> {
    await this.#admin(async (client) => {
      await client.query(`DROP DATABASE IF EXISTS "${this.name}" WITH (FORCE)`);
      await client.query(`CREATE DATABASE "${this.name}"`);
    });
  }

  async drop(): Promise<void> {
    await this.#admin((client) => client.query(`DROP DATABASE IF EXISTS "${this.name}" WITH (FORCE)`));
  }

  async #admin(work: (client: pg.Client) => Promise<unknown>): Promise<void> {
    const client = new pg.Client({ connectionString: this.#adminUrl, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      await work(client);
    } finally {
      await client.end();
    }
  }
}

/** True when the server answers; the benchmark skips PostgreSQL with a note otherwise. */
export async function postgresReachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}
