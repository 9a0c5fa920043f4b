/** A persistent string-keyed map: `set` and `delete` return a new map that shares all but one path with the old one
 *  (a root of WIDTH nodes of WIDTH buckets), so a pure fold pays O(2·WIDTH + n/WIDTH²) per change instead of copying
 *  the whole map (what made the optimizer's restore quadratic: every meter sample copied the map of all sessions).
 *  Iterates in insertion order, as Map does. */
const WIDTH = 32;

interface Entry<V> {
  readonly value: V;
  readonly seq: number;
}

type Bucket<V> = ReadonlyMap<string, Entry<V>>;

const hashOf = (key: string): number => {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
};

type Node<V> = readonly (Bucket<V> | undefined)[];
const emptyNode: Node<never> = new Array<undefined>(WIDTH).fill(undefined);

export class PMap<V> {
  private ordered: readonly (readonly [string, V])[] | undefined;

  private constructor(
    private readonly root: readonly Node<V>[],
    readonly size: number,
    private readonly nextSeq: number,
  ) {}

  static empty<V>(): PMap<V> {
    return new PMap<V>(new Array<Node<V>>(WIDTH).fill(emptyNode), 0, 0);
  }

  private bucket(h: number): Bucket<V> | undefined {
    return this.root[h % WIDTH]![(h >>> 5) % WIDTH];
  }

  private with(h: number, bucket: Bucket<V> | undefined, size: number, nextSeq: number): PMap<V> {
    const node = this.root[h % WIDTH]!.slice();
    node[(h >>> 5) % WIDTH] = bucket;
    const root = this.root.slice();
    root[h % WIDTH] = node;
    return new PMap(root, size, nextSeq);
  }

  static of<V>(entries: Iterable<readonly [string, V]>): PMap<V> {
    let m = PMap.empty<V>();
    for (const [k, v] of entries) m = m.set(k, v);
    return m;
  }

  get(key: string): V | undefined {
    return this.bucket(hashOf(key))?.get(key)?.value;
  }

  has(key: string): boolean {
    return this.bucket(hashOf(key))?.has(key) ?? false;
  }

  set(key: string, value: V): PMap<V> {
    const h = hashOf(key);
    const old = this.bucket(h);
    const prev = old?.get(key);
    if (prev && prev.value === value) return this;
    const bucket = new Map(old);
    bucket.set(key, { value, seq: prev ? prev.seq : this.nextSeq });
    return this.with(h, bucket, prev ? this.size : this.size + 1, prev ? this.nextSeq : this.nextSeq + 1);
  }

  delete(key: string): PMap<V> {
    const h = hashOf(key);
    const old = this.bucket(h);
    if (!old?.has(key)) return this;
    const bucket = new Map(old);
    bucket.delete(key);
    return this.with(h, bucket.size ? bucket : undefined, this.size - 1, this.nextSeq);
  }

  private *all(): Generator<[string, Entry<V>]> {
    for (const node of this.root) for (const bucket of node) if (bucket) yield* bucket;
  }

  /** Entries in insertion order; sorted once per map value (maps never change). */
  entries(): readonly (readonly [string, V])[] {
    if (!this.ordered) {
      const all = [...this.all()];
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
