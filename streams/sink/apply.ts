import { ClientBase } from 'pg';
import { Projection, ProjectionInput } from '../projections/projection';
import { Row } from './table';
import { InsertOptions, insertRows, keyString, loadRows, lockKeys, pgKeyValue, upsertRows } from './sql';

/** Applies one batch of inputs to every projection inside the caller's transaction: document projections load the
 *  rows the batch touches (one SELECT per table), fold in memory and upsert what changed (one statement); append
 *  projections insert their rows (one statement). Returns the number of rows written per table. */
export const applyBatch = async (client: ClientBase, projections: readonly Projection[], inputs: readonly ProjectionInput[], o?: InsertOptions): Promise<Record<string, number>> => {
  const written: Record<string, number> = {};
  for (const p of projections) {
    if (p.kind === 'append') {
      const rows: Row[] = [];
      for (const i of inputs) for (const r of p.rows(i)) rows.push(r);
      if (rows.length) {
        await insertRows(client, p.table, rows, o);
        written[p.table.name] = rows.length;
      }
      continue;
    }
    const touched: { key: string; values: readonly (string | number)[]; input: ProjectionInput }[] = [];
    const keys = new Map<string, readonly (string | number)[]>();
    for (const i of inputs) {
      const raw = p.keyOf(i);
      if (!raw) continue;
      // As the table holds the key (sql.ts pgText), so that the row loaded back is found under it.
      const values = raw.map(pgKeyValue);
      const key = keyString(values);
      keys.set(key, values);
      touched.push({ key, values, input: i });
    }
    if (touched.length === 0) continue;
    if (p.keysSpanPartitions) await lockKeys(client, p.table, [...keys.keys()]);
    const loaded = await loadRows(client, p.table, [...keys.values()]);
    const current = new Map(loaded);
    for (const t of touched) {
      const next = p.evolve(current.get(t.key), t.input);
      if (next) current.set(t.key, next);
    }
    const changed = [...current.entries()].filter(([k, r]) => loaded.get(k) !== r).map(([, r]) => r);
    if (changed.length) {
      await upsertRows(client, p.table, changed);
      written[p.table.name] = changed.length;
    }
  }
  return written;
};
