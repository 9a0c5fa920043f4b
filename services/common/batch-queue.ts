/** Group commit: requests that arrive while a batch is running go together in the next one, one batch at a time.
 *  An idle queue runs a request at once (a batch of one), so a quiet system pays no wait; under a burst the cost of a
 *  round trip is shared by up to `maxBatch` requests. Requests with the same key never share a batch: a later one runs
 *  in a batch after the earlier one's. A batch that fails fails each of its requests with the same error. */

export interface BatchQueue<Q, R> {
  run(request: Q): Promise<R>;
  /** Requests waiting for a batch (not counting the one running). */
  readonly waiting: number;
}

interface Pending<Q, R> {
  readonly request: Q;
  readonly resolve: (r: R) => void;
  readonly reject: (e: unknown) => void;
}

export const createBatchQueue = <Q, R>(runBatch: (requests: readonly Q[]) => Promise<readonly R[]>, keyOf: (q: Q) => string, maxBatch: number): BatchQueue<Q, R> => {
  let line: Pending<Q, R>[] = [];
  let running = false;

  const next = (): Pending<Q, R>[] => {
    const batch: Pending<Q, R>[] = [];
    const rest: Pending<Q, R>[] = [];
    const keys = new Set<string>();
    for (const p of line) {
      const key = keyOf(p.request);
      if (batch.length < maxBatch && !keys.has(key)) {
        keys.add(key);
        batch.push(p);
      } else rest.push(p);
    }
    line = rest;
    return batch;
  };

  const drain = async (): Promise<void> => {
    running = true;
    for (let batch = next(); batch.length > 0; batch = next()) {
      try {
        const results = await runBatch(batch.map((p) => p.request));
        if (results.length !== batch.length) throw new Error(`a batch of ${batch.length} gave ${results.length} results`);
        batch.forEach((p, i) => p.resolve(results[i]!));
      } catch (e) {
        for (const p of batch) p.reject(e);
      }
    }
    running = false;
  };

  return {
    run: (request) =>
      new Promise<R>((resolve, reject) => {
        line.push({ request, resolve, reject });
        if (!running) void drain();
      }),
    get waiting() {
      return line.length;
    },
  };
};
