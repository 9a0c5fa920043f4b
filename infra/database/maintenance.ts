import * as E from 'fp-ts/Either';

/** What the embedded database's maintenance does to its tables, as data (maintenance-run.ts carries it out).
 *
 *  PGlite runs no autovacuum launcher and never flushes its table statistics counters (`pg_stat_user_tables` stays at
 *  zero), so no table is ever analyzed or vacuumed unless someone asks: the planner plans every query on a table it
 *  believes empty (`reltuples` -1) and picks plans that read every row of a charger's window where an index scan
 *  would read 24 (the dashboard seed: 5.3 ms per charger instead of 0.14), and tables updated in place (charger and
 *  connector status) only grow. What a table looked like when it was last analyzed is still there: `pg_class.relpages`
 *  and `reltuples`, which ANALYZE and VACUUM set. A table whose size has moved away from that is due. */

export interface TableSize {
  /** schema-qualified and quoted, ready for SQL */
  readonly table: string;
  /** pages it has now (pg_relation_size / block size) */
  readonly pages: number;
  /** pages at its last ANALYZE or VACUUM (pg_class.relpages) */
  readonly analyzedPages: number;
  /** rows at its last ANALYZE or VACUUM; -1: never */
  readonly analyzedRows: number;
}

export type MaintenanceStep =
  | { readonly kind: 'vacuum analyze'; readonly table: string; readonly reason: string }
  | { readonly kind: 'analyze'; readonly table: string; readonly reason: string };

export interface MaintenancePolicy {
  /** A table grown or shrunk by more than this share of its analyzed size is analyzed again (autovacuum's scale factor). */
  readonly changedShare: number;
  /** ...and by at least this many pages (autovacuum's threshold), so small tables are not analyzed at every pass. */
  readonly minChangedPages: number;
  /** Tables up to this size are also vacuumed (VACUUM reads the whole table while every other session waits: only
   *  small ones, the status tables updated in place; large tables are append-only hypertable chunks). */
  readonly vacuumMaxPages: number;
}

export const defaultMaintenancePolicy: MaintenancePolicy = { changedShare: 0.1, minChangedPages: 8, vacuumMaxPages: 2048 };

const stepFor = (t: TableSize, reason: string, p: MaintenancePolicy): MaintenanceStep =>
  t.pages <= p.vacuumMaxPages ? { kind: 'vacuum analyze', table: t.table, reason } : { kind: 'analyze', table: t.table, reason };

/** The tables due, the smallest first (each step holds PGlite from every other session: the quick ones go first). */
export const planMaintenance = (tables: readonly TableSize[], p: MaintenancePolicy = defaultMaintenancePolicy): MaintenanceStep[] =>
  [...tables]
    .sort((a, b) => a.pages - b.pages)
    .flatMap((t): MaintenanceStep[] => {
      if (t.pages === 0) return [];
      if (t.analyzedRows < 0) return [stepFor(t, `never analyzed, ${t.pages} pages`, p)];
      const changed = Math.abs(t.pages - t.analyzedPages);
      if (changed < p.minChangedPages || changed <= p.changedShare * t.analyzedPages) return [];
      return [stepFor(t, `${t.analyzedPages} → ${t.pages} pages since its last analysis`, p)];
    });

/** EMBEDDED_DB_MAINTENANCE_SECONDS: unset (the default), or a whole number of seconds, 0 turning maintenance off. */
export const maintenanceSeconds = (raw: string | undefined): E.Either<string, number | undefined> => {
  if (raw === undefined || raw === '') return E.right(undefined);
  const n = Number(raw);
  return Number.isInteger(n) && n >= 0 ? E.right(n) : E.left(`EMBEDDED_DB_MAINTENANCE_SECONDS must be a whole number of seconds (0: no maintenance), got '${raw}'`);
};
