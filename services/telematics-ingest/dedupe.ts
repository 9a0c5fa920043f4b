/** The reading ids written lately, at most `capacity` (oldest forgotten first). A reading id seen here is a duplicate:
 *  accepted and not written again. Beyond the cache (or after a restart) the deterministic readingId still lets
 *  downstream consumers drop a repeat. */
export interface SeenIds {
  has(id: string): boolean;
  add(id: string): void;
  readonly size: number;
}

export const createSeenIds = (capacity: number): SeenIds => {
  const ids = new Set<string>();
  return {
    has: (id) => ids.has(id),
    add: (id) => {
      if (ids.has(id)) return;
      ids.add(id);
      if (ids.size > capacity) ids.delete(ids.values().next().value as string);
    },
    get size() {
      return ids.size;
    },
  };
};
