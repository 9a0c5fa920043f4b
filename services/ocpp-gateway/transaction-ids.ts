/** OCPP 1.6 transactionIds handed out from blocks reserved ahead in PostgreSQL's sequence, so that a StartTransaction
 *  is answered while the database is away (a restart, a failover: the outage test stops it for 30 s) and does not
 *  queue behind other writes when it is busy. Ids stay unique across instances and restarts; the unused rest of a
 *  block is skipped, as a sequence's cache does. */
export interface TransactionIds {
  next(): Promise<number>;
  /** Reserves the first block now, so that ids are in hand before the first StartTransaction. */
  warm(): Promise<void>;
  /** Ids in hand now, not yet given. */
  inHand(): number;
}

export interface TransactionIdOptions {
  /** Reserves `n` new ids (in any order). */
  readonly reserve: (n: number) => Promise<readonly number[]>;
  /** Ids reserved at a time (default 200). */
  readonly block?: number;
  /** Below this many in hand, the next block is reserved in the background (default half a block). */
  readonly lowWater?: number;
}

export const createTransactionIds = (o: TransactionIdOptions): TransactionIds => {
  const block = o.block ?? 200;
  const lowWater = o.lowWater ?? Math.floor(block / 2);
  const ids: number[] = [];
  let refilling: Promise<void> | undefined;
  const refill = (): Promise<void> =>
    (refilling ??= o
      .reserve(block)
      .then((got) => {
        ids.push(...[...got].sort((a, b) => a - b));
      })
      .finally(() => {
        refilling = undefined;
      }));
  return {
    next: async () => {
      while (ids.length === 0) await refill();
      const id = ids.shift()!;
      if (ids.length < lowWater) refill().catch(() => undefined); // tried again at the next id, or when none is left
      return id;
    },
    warm: () => (ids.length < lowWater ? refill() : Promise.resolve()),
    inHand: () => ids.length,
  };
};
