import { createBatchQueue } from './batch-queue';

/** A batch runner whose batches finish when the test says so, recording what each batch held. */
const controlledRunner = () => {
  const batches: string[][] = [];
  const finishers: (() => void)[] = [];
  const run = (qs: readonly string[]) =>
    new Promise<string[]>((resolve) => {
      batches.push([...qs]);
      finishers.push(() => resolve(qs.map((q) => `done:${q}`)));
    });
  const finishNext = async () => {
    finishers.shift()!();
    await new Promise((r) => setImmediate(r));
  };
  return { batches, run, finishNext };
};

describe('batch queue', () => {
  it('given an idle queue, when one request comes, then it runs at once alone', async () => {
    const r = controlledRunner();
    const q = createBatchQueue(r.run, (s) => s, 10);
    const a = q.run('a');
    expect(r.batches).toEqual([['a']]);
    await r.finishNext();
    await expect(a).resolves.toBe('done:a');
  });

  it('given a running batch, when requests arrive meanwhile, then they go together in the next batch', async () => {
    const r = controlledRunner();
    const q = createBatchQueue(r.run, (s) => s, 10);
    const all = ['a', 'b', 'c', 'd'].map((s) => q.run(s));
    expect(q.waiting).toBe(3);
    await r.finishNext();
    expect(r.batches).toEqual([['a'], ['b', 'c', 'd']]);
    await r.finishNext();
    await expect(Promise.all(all)).resolves.toEqual(['done:a', 'done:b', 'done:c', 'done:d']);
  });

  it('given more waiting than a batch holds, then batches are capped at maxBatch', async () => {
    const r = controlledRunner();
    const q = createBatchQueue(r.run, (s) => s, 2);
    const all = ['a', 'b', 'c', 'd', 'e'].map((s) => q.run(s));
    for (let i = 0; i < 3; i++) await r.finishNext();
    expect(r.batches).toEqual([['a'], ['b', 'c'], ['d', 'e']]);
    await Promise.all(all);
  });

  it('given two requests with the same key waiting, then the later runs in a batch after the earlier', async () => {
    const r = controlledRunner();
    const q = createBatchQueue(r.run, (s) => s.split('#')[0]!, 10);
    const all = ['x', 'a#1', 'b', 'a#2'].map((s) => q.run(s));
    for (let i = 0; i < 3; i++) await r.finishNext();
    expect(r.batches).toEqual([['x'], ['a#1', 'b'], ['a#2']]);
    await Promise.all(all);
  });

  it('given a batch that fails, then each of its requests fails and the next batch still runs', async () => {
    let calls = 0;
    const q = createBatchQueue(
      async (qs: readonly string[]) => {
        calls++;
        if (qs.includes('bad')) throw new Error('database gone');
        return qs.map((s) => s.toUpperCase());
      },
      (s) => s,
      10,
    );
    const first = q.run('ok1');
    const failing = [q.run('bad'), q.run('x')];
    await expect(first).resolves.toBe('OK1');
    await expect(failing[0]).rejects.toThrow('database gone');
    await expect(failing[1]).rejects.toThrow('database gone');
    await expect(q.run('later')).resolves.toBe('LATER');
    expect(calls).toBe(3);
  });
});
