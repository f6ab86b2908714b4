/**
 * Batches lookups made in one tick into one fetch, and remembers answers for the rest of its life
 * (one GraphQL request). GraphQL resolves a field of every item of a list one after another: the
 * `group` of 50 messages would otherwise be 50 queries.
 */
export class BatchLoader<K, V> {
  private readonly answers = new Map<K, Promise<V>>();
  private queued: { key: K; resolve: (v: V) => void; reject: (e: unknown) => void }[] = [];

  constructor(
    private readonly fetch: (keys: K[]) => Promise<Map<K, V>>,
    private readonly missing: V,
  ) {}

  load(key: K): Promise<V> {
    let answer = this.answers.get(key);
    if (!answer) {
      answer = new Promise<V>((resolve, reject) => {
        if (this.queued.length === 0) process.nextTick(() => this.flush());
        this.queued.push({ key, resolve, reject });
      });
      this.answers.set(key, answer);
    }
    return answer;
  }

  private async flush(): Promise<void> {
    const batch = this.queued;
    this.queued = [];
    try {
      const found = await this.fetch(batch.map((b) => b.key));
      for (const b of batch) b.resolve(found.has(b.key) ? found.get(b.key)! : this.missing);
    } catch (e) {
      for (const b of batch) {
        // A failed lookup is not remembered: a later load asks again.
        this.answers.delete(b.key);
        b.reject(e);
      }
    }
  }
}
