/** Which pods on which node are currently firing the restart alert; an entry lapses unless renewed or resolved. */
export class FailingPods {
  readonly #byNode = new Map<string, Map<string, number>>();
  readonly #ttlMs: () => number;
  readonly #now: () => number;

  constructor(options: { ttlMs: () => number; now?: () => number }) {
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
  }

  note(node: string, pod: string): void {
    let pods = this.#byNode.get(node);
    if (!pods) {
      pods = new Map();
      this.#byNode.set(node, pods);
    }
    pods.set(pod, this.#now() + this.#ttlMs());
  }

  forget(pod: string): void {
    for (const pods of this.#byNode.values()) pods.delete(pod);
  }

  count(node: string): number {
    const pods = this.#byNode.get(node);
    if (!pods) return 0;
    const now = this.#now();
    for (const [pod, expiresAt] of pods) if (expiresAt <= now) pods.delete(pod);
    return pods.size;
  }
}
