import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import * as t from 'io-ts';
import { Pool } from 'pg';
import { decodeWith } from '../../services/common/decode';
import { Logger } from '../../services/common/log';
import { defaultMaintenancePolicy, MaintenancePolicy, MaintenanceStep, planMaintenance } from './maintenance';

/** Carries out the maintenance plan (maintenance.ts) as an ordinary client of the embedded database: each step is one
 *  statement, so the session front lets the gateway's sessions and the others in between steps, as between any two
 *  transactions. */

const TableSizes = t.array(t.type({ table: t.string, pages: t.number, analyzedPages: t.number, analyzedRows: t.number }));

const tableSizesSql = `
  SELECT format('%I.%I', n.nspname, c.relname) AS "table",
    (pg_relation_size(c.oid) / current_setting('block_size')::int)::float8 AS pages,
    c.relpages::float8 AS "analyzedPages", c.reltuples::float8 AS "analyzedRows"
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`;

export interface StepDone {
  readonly step: MaintenanceStep;
  readonly ms: number;
  readonly error?: string;
}

/** One pass: the tables' sizes, the plan, each step in turn while `goOn()` says so. A step that fails (a table
 *  dropped meanwhile) is reported and the others go on. */
export const runMaintenancePass = async (pool: Pool, policy: MaintenancePolicy = defaultMaintenancePolicy, goOn: () => boolean = () => true): Promise<E.Either<string, StepDone[]>> => {
  const rows: E.Either<string, unknown> = await pool.query(tableSizesSql).then(
    (r) => E.right(r.rows),
    (e: Error) => E.left(`table sizes not read: ${e.message}`),
  );
  const sizes = pipe(
    rows,
    E.chain((r) => pipe(decodeWith(TableSizes)(r), E.mapLeft((problems) => `table sizes do not decode: ${problems.slice(0, 3).join('; ')}`))),
  );
  if (E.isLeft(sizes)) return sizes;
  const done: StepDone[] = [];
  for (const step of planMaintenance(sizes.right, policy)) {
    if (!goOn()) break;
    const started = performance.now();
    const error = await pool.query(`${step.kind.toUpperCase()} ${step.table}`).then(
      () => undefined,
      (e: Error) => e.message,
    );
    done.push({ step, ms: Math.round(performance.now() - started), ...(error ? { error } : {}) });
  }
  return E.right(done);
};

export interface Maintenance {
  stop(): Promise<void>;
}

/** Runs a pass `firstAfterMs` after the start, then every `everyMs`, until stopped; a pass that fails is logged and
 *  the next one comes as planned. */
export const startMaintenance = (o: { url: string; everyMs: number; firstAfterMs: number; log: Logger; policy?: MaintenancePolicy }): Maintenance => {
  // No statement may keep the database process from stopping for long (ANALYZE of a 100 MB chunk: 0.3 s).
  const pool = new Pool({ connectionString: o.url, max: 1, application_name: 'voltstream-maintenance', query_timeout: 120_000 });
  pool.on('error', (e) => o.log.warn('maintenance connection lost', { err: e.message }));
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;

  const pass = async () => {
    const started = performance.now();
    const result = await runMaintenancePass(pool, o.policy, () => !stopped);
    if (E.isLeft(result)) o.log.warn('maintenance pass failed', { reason: result.left });
    else {
      for (const d of result.right) {
        if (d.error) o.log.warn('maintenance step failed', { step: d.step.kind, table: d.step.table, reason: d.error });
        else o.log.info('table maintained', { step: d.step.kind, table: d.step.table, why: d.step.reason, ms: d.ms });
      }
      if (result.right.length > 0) o.log.info('maintenance pass done', { steps: result.right.length, ms: Math.round(performance.now() - started) });
    }
  };
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = pass().finally(() => schedule(o.everyMs));
    }, ms);
  };
  schedule(o.firstAfterMs);

  return {
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      // A step under way is given a few seconds to finish.
      await Promise.race([running, new Promise((r) => setTimeout(r, 5000).unref())]);
      await pool.end().catch(() => undefined);
    },
  };
};
