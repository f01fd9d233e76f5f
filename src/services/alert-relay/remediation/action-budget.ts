/** A sliding-window budget: at most `limit` actions in any window of `windowMs`. */
export class ActionBudget {
  readonly #spent: number[] = [];
  readonly #windowMs: number;
  readonly #now: () => number;

  constructor(options: { windowMs: number; now?: () => number }) {
    this.#windowMs = options.windowMs;
    this.#now = options.now ?? Date.now;
  }

  /** Takes one action from the budget; false (and nothing taken) when it is used up. */
  spend(limit: number): boolean {
    const now = this.#now();
    while (this.#spent.length > 0 && (this.#spent[0] ?? 0) <= now - this.#windowMs) this.#spent.shift();
    if (this.#spent.length >= limit) return false;
    this.#spent.push(now);
    return true;
  }

  /** Gives back the latest action, one that did not happen after all (its write failed). */
  refund(): void {
    this.#spent.pop();
  }

  get used(): number {
    return this.#spent.length;
  }
}
