/** Deterministic pseudo-random numbers (mulberry32): the same seed gives the same depot, run after run.
 *  `derive` makes an independent stream per purpose (vehicle, day, ...) so adding a vehicle does not reshuffle the others. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  range(min: number, max: number): number;
  int(min: number, maxInclusive: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
}

const hashString = (s: string): number => {
  let h = 2166136261 >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h;
};

export const createRng = (seed: number | string): Rng => {
  let a = (typeof seed === 'number' ? seed : hashString(seed)) >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    range: (min, max) => min + (max - min) * next(),
    int: (min, maxInclusive) => min + Math.floor(next() * (maxInclusive - min + 1)),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
};

/** An independent stream for one purpose, e.g. derive(seed, 'vehicle', 3, 'day', 2). */
export const derive = (seed: number, ...path: (string | number)[]): Rng => createRng(hashString(`${seed}/${path.join('/')}`));
