import * as E from 'fp-ts/Either';
import { checkpointKey, createCheckpointStore } from '../../services/optimizer/checkpoint-store';
import { freshPgSchema } from '../support/stack';

/** The optimizer's checkpoint store (checkpoint-store.ts) on the real database, each test in a schema of its own: a
 *  later checkpoint is never replaced by an earlier one, folds of other groups or sites keep their own, and a database
 *  with no checkpoint says so without failing. */
jest.setTimeout(60000);

const T = Date.UTC(2026, 11, 7, 12, 0, 0);
const body = (s: string) => Buffer.from(s);

describe('optimizer checkpoint store', () => {
  let db: Awaited<ReturnType<typeof freshPgSchema>>;
  const storeOf = (groupId: string, sites: readonly string[] | null) => createCheckpointStore(db.pool, db.schema, checkpointKey(groupId, sites));
  const takenAtOf = async (groupId: string, sites: readonly string[] | null) =>
    (await db.pool.query<{ taken_at: Date }>(`SELECT taken_at FROM "${db.schema}".fold_checkpoints WHERE checkpoint_key = $1`, [checkpointKey(groupId, sites)])).rows[0]?.taken_at.getTime();

  beforeEach(async () => {
    db = await freshPgSchema('optimizer_ckpt');
  });
  afterEach(async () => {
    await db.drop();
  });

  test('given a checkpoint, an older one written after it does not replace it, a newer one does', async () => {
    const store = storeOf('optimizer', ['north']);
    expect(await store.save(T + 60000, body('newer'))()).toEqual(E.right(undefined));
    expect(await store.save(T, body('older, written late'))()).toEqual(E.right(undefined));
    expect(await store.load()()).toEqual(E.right(body('newer')));
    expect(await takenAtOf('optimizer', ['north'])).toBe(T + 60000);

    expect(await store.save(T + 120000, body('newest'))()).toEqual(E.right(undefined));
    expect(await store.load()()).toEqual(E.right(body('newest')));
    expect(await takenAtOf('optimizer', ['north'])).toBe(T + 120000);
  });

  test('given folds of other groups or sites, each keeps its own; the same sites in another order are the same fold', async () => {
    const folds = [
      ['optimizer', ['north']],
      ['optimizer', ['south']],
      ['optimizer', ['north', 'south']],
      ['optimizer', null],
      ['optimizer-b', ['north']],
    ] as const;
    for (const [i, [groupId, sites]] of folds.entries()) await storeOf(groupId, sites).save(T + i, body(`${groupId}|${sites?.join(',') ?? '*'}`))();
    for (const [groupId, sites] of folds) expect(await storeOf(groupId, sites).load()()).toEqual(E.right(body(`${groupId}|${sites?.join(',') ?? '*'}`)));
    expect(await storeOf('optimizer', ['south', 'north']).load()()).toEqual(E.right(body('optimizer|north,south')));
    expect((await db.pool.query(`SELECT 1 FROM "${db.schema}".fold_checkpoints`)).rowCount).toBe(folds.length);
  });

  test('given no table yet, or no row for the fold, there is no checkpoint yet (not a failure)', async () => {
    const tableExists = async () => (await db.pool.query<{ t: string | null }>(`SELECT to_regclass($1) AS t`, [`"${db.schema}".fold_checkpoints`])).rows[0]!.t !== null;
    expect(await tableExists()).toBe(false);
    expect(await storeOf('optimizer', ['north']).load()()).toEqual(E.right(null));
    expect(await tableExists()).toBe(true);

    await storeOf('optimizer', ['south']).save(T, body('south'))();
    expect(await storeOf('optimizer', ['north']).load()()).toEqual(E.right(null));
  });

  test('given the table dropped under a running store, loading and saving fail with the reason, without throwing', async () => {
    const store = storeOf('optimizer', ['north']);
    await store.save(T, body('north'))();
    await db.pool.query(`DROP TABLE "${db.schema}".fold_checkpoints`);
    expect(await store.load()()).toEqual(E.left(expect.stringContaining('reading the optimizer checkpoint')));
    expect(await store.save(T + 1, body('north'))()).toEqual(E.left(expect.stringContaining('writing the optimizer checkpoint')));
  });
});
