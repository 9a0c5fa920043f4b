import { createTransactionIds } from './transaction-ids';

/** A sequence in memory that can be made unreachable, as PostgreSQL during an outage. */
const sequence = () => {
  let last = 0;
  let down = false;
  const calls: number[] = [];
  return {
    reserve: async (n: number) => {
      calls.push(n);
      await Promise.resolve();
      if (down) throw new Error('connection refused');
      return Array.from({ length: n }, () => ++last);
    },
    setDown: (d: boolean) => {
      down = d;
    },
    calls,
  };
};

test('given a fresh reserve, when ids are taken, then they are increasing and unique, from one block', async () => {
  const seq = sequence();
  const ids = createTransactionIds({ reserve: seq.reserve, block: 10 });
  const got = [];
  for (let i = 0; i < 5; i++) got.push(await ids.next());
  expect(got).toEqual([1, 2, 3, 4, 5]);
  expect(seq.calls).toEqual([10]);
});

test('given a warmed reserve, when the database goes away before the first id, then ids are still given', async () => {
  const seq = sequence();
  const ids = createTransactionIds({ reserve: seq.reserve, block: 3 });
  await ids.warm();
  seq.setDown(true);
  expect([await ids.next(), await ids.next(), await ids.next()]).toEqual([1, 2, 3]);
});

test('given fewer than the low-water mark in hand, then the next block is reserved ahead, before they run out', async () => {
  const seq = sequence();
  const ids = createTransactionIds({ reserve: seq.reserve, block: 10, lowWater: 5 });
  for (let i = 0; i < 6; i++) await ids.next();
  await new Promise((r) => setImmediate(r));
  expect(seq.calls).toEqual([10, 10]);
  expect(ids.inHand()).toBe(14);
});

test('given the database goes away, then the ids in hand are still given, and only an empty reserve fails', async () => {
  const seq = sequence();
  const ids = createTransactionIds({ reserve: seq.reserve, block: 10, lowWater: 5 });
  await ids.next();
  seq.setDown(true);
  const during = [];
  for (let i = 0; i < 9; i++) during.push(await ids.next());
  expect(during).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
  await expect(ids.next()).rejects.toThrow('connection refused');
  seq.setDown(false);
  expect(await ids.next()).toBe(11);
});

test('given concurrent requests with nothing in hand, then one block is reserved and each gets its own id', async () => {
  const seq = sequence();
  const ids = createTransactionIds({ reserve: seq.reserve, block: 4, lowWater: 0 });
  const got = await Promise.all(Array.from({ length: 6 }, () => ids.next()));
  expect([...got].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
  expect(seq.calls).toEqual([4, 4]);
});
