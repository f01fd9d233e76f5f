/**
 * Keys remembered for a while: the relay's memory of what it already sent or did. Bounded, so a flood of distinct
 * alerts cannot grow it without limit (the oldest entries go first).
 */
export class ExpiringSet {
  readonly #entries = new Map<string, number>();
  readonly #ttlMs: () => number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: { ttlMs: () => number; maxEntries?: number; now?: () => number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 50_000;
    this.#now = options.now ?? Date.now;
  }

  has(key: string): boolean {
    const expiresAt = this.#entries.get(key);
    if (expiresAt === undefined) return false;
    if (expiresAt > this.#now()) return true;
    this.#entries.delete(key);
    return false;
  }

  /** Adds the key; false when it was already there (someone else claimed it first). */
  claim(key: string): boolean {
    if (this.has(key)) return false;
    this.#entries.delete(key);
    this.#entries.set(key, this.#now() + this.#ttlMs());
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return true;
  }

  release(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
