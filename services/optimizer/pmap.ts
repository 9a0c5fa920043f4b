/** A persistent string-keyed map: `set` and `delete` return a new map that shares all but one bucket with the old one,
 *  so a pure fold pays O(n/BUCKETS + BUCKETS) per change instead of copying the whole map (what made the optimizer's
 *  restore quadratic: every meter sample copied the map of all sessions). Iterates in insertion order, as Map does. */
const BUCKETS = 128;

interface Entry<V> {
  readonly value: V;
  readonly seq: number;
}

type Bucket<V> = ReadonlyMap<string, Entry<V>>;

const bucketOf = (key: string): number => {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % BUCKETS;
};

export class PMap<V> {
  private ordered: readonly (readonly [string, V])[] | undefined;

  private constructor(
    private readonly buckets: readonly (Bucket<V> | undefined)[],
    readonly size: number,
    private readonly nextSeq: number,
  ) {}

  static empty<V>(): PMap<V> {
    return new PMap<V>(new Array<Bucket<V> | undefined>(BUCKETS).fill(undefined), 0, 0);
  }

  static of<V>(entries: Iterable<readonly [string, V]>): PMap<V> {
    let m = PMap.empty<V>();
    for (const [k, v] of entries) m = m.set(k, v);
    return m;
  }

  get(key: string): V | undefined {
    return this.buckets[bucketOf(key)]?.get(key)?.value;
  }

  has(key: string): boolean {
    return this.buckets[bucketOf(key)]?.has(key) ?? false;
  }

  set(key: string, value: V): PMap<V> {
    const b = bucketOf(key);
    const old = this.buckets[b];
    const prev = old?.get(key);
    if (prev && prev.value === value) return this;
    const bucket = new Map(old);
    bucket.set(key, { value, seq: prev ? prev.seq : this.nextSeq });
    const buckets = this.buckets.slice();
    buckets[b] = bucket;
    return new PMap(buckets, prev ? this.size : this.size + 1, prev ? this.nextSeq : this.nextSeq + 1);
  }

  delete(key: string): PMap<V> {
    const b = bucketOf(key);
    const old = this.buckets[b];
    if (!old?.has(key)) return this;
    const bucket = new Map(old);
    bucket.delete(key);
    const buckets = this.buckets.slice();
    buckets[b] = bucket.size ? bucket : undefined;
    return new PMap(buckets, this.size - 1, this.nextSeq);
  }

  /** The entry inserted first (O(n)). */
  firstKey(): string | undefined {
    let best: [string, number] | undefined;
    for (const bucket of this.buckets) for (const [k, e] of bucket ?? []) if (!best || e.seq < best[1]) best = [k, e.seq];
    return best?.[0];
  }

  /** Entries in insertion order; sorted once per map value (maps never change). */
  entries(): readonly (readonly [string, V])[] {
    if (!this.ordered) {
      const all: [string, Entry<V>][] = [];
      for (const bucket of this.buckets) for (const e of bucket ?? []) all.push(e);
      all.sort((a, b) => a[1].seq - b[1].seq);
      this.ordered = all.map(([k, e]) => [k, e.value] as const);
    }
    return this.ordered;
  }

  keys(): string[] {
    return this.entries().map(([k]) => k);
  }

  values(): V[] {
    return this.entries().map(([, v]) => v);
  }

  [Symbol.iterator](): Iterator<readonly [string, V]> {
    return this.entries()[Symbol.iterator]();
  }
}
