import { Pool } from 'pg';
import * as TE from 'fp-ts/TaskEither';
import { pipe } from 'fp-ts/function';
import { quoteIdent } from '../common/db';
import { migrate, Migration } from '../../infra/database/migrate';

/** Where the optimizer's checkpoints live (checkpoint.ts): one row per fold, in the table `fold_checkpoints` of its
 *  own schema (OPTIMIZER_SCHEMA, default `optimizer`) in the projection database. A fold is named by its consumer
 *  group and the sites it plans (`checkpointKey`): two instances that plan the same sites fold the same inputs and
 *  may share one. Each save replaces the row, unless the row holds a later one. */
const migrations: readonly Migration[] = [
  {
    id: 'optimizer-0001-fold-checkpoints',
    up: () => [
      `CREATE TABLE IF NOT EXISTS fold_checkpoints (
         checkpoint_key text PRIMARY KEY,
         taken_at timestamptz NOT NULL,
         size_bytes integer NOT NULL,
         body bytea NOT NULL
       )`,
    ],
  },
];

export const checkpointKey = (groupId: string, sites: readonly string[] | null): string => `${groupId}|${sites === null ? '*' : [...sites].sort().join(',')}`;

export interface CheckpointStore {
  /** The latest checkpoint's body, or null when there is none. */
  load(): TE.TaskEither<string, Buffer | null>;
  save(takenAt: number, body: Buffer): TE.TaskEither<string, void>;
}

export const createCheckpointStore = (pool: Pool, schema: string, key: string): CheckpointStore => {
  const table = `${quoteIdent(schema)}.fold_checkpoints`;
  let migrated: Promise<unknown> | undefined;
  const ready = TE.tryCatch(
    () => (migrated ??= migrate(pool, schema, migrations).catch((e: unknown) => {
      migrated = undefined;
      throw e;
    })),
    (e) => `optimizer checkpoints: ${(e as Error).message}`,
  );
  return {
    load: () =>
      pipe(
        ready,
        TE.chain(() =>
          TE.tryCatch(
            async () => (await pool.query<{ body: Buffer }>(`SELECT body FROM ${table} WHERE checkpoint_key = $1`, [key])).rows[0]?.body ?? null,
            (e) => `reading the optimizer checkpoint: ${(e as Error).message}`,
          ),
        ),
      ),
    save: (takenAt, body) =>
      pipe(
        ready,
        TE.chain(() =>
          TE.tryCatch(
            async () => {
              await pool.query(
                `INSERT INTO ${table} (checkpoint_key, taken_at, size_bytes, body) VALUES ($1, to_timestamp($2 / 1000.0), $3, $4)
                 ON CONFLICT (checkpoint_key) DO UPDATE SET taken_at = EXCLUDED.taken_at, size_bytes = EXCLUDED.size_bytes, body = EXCLUDED.body
                 WHERE fold_checkpoints.taken_at <= EXCLUDED.taken_at`,
                [key, takenAt, body.length, body],
              );
            },
            (e) => `writing the optimizer checkpoint: ${(e as Error).message}`,
          ),
        ),
      ),
  };
};
