import { Pool } from 'pg';
import { consumerDied } from '../common/supervise';
import { ConsumerComponent } from '../common/supervised-consumer';
import { ServiceContext } from '../common/service';
import { quoteIdent } from '../common/db';
import { Migration } from '../../infra/database/migrate';
import { Topics } from '../../schemas/topics';

/** A small projection of optimizer.plans for GET /api/v1/sites/{id}/plans, the site state's active profiles and the
 *  analysts' view: one row per plan, written idempotently (plan_id is the key) before the offsets are committed, so a
 *  restart re-reads at most a batch and changes nothing. */
export const planMigrations: readonly Migration[] = [
  {
    id: 'api-0002-optimizer-plans',
    up: () => [
      `CREATE TABLE IF NOT EXISTS optimizer_plans (
         plan_id text PRIMARY KEY,
         site_id text NOT NULL,
         decided_at timestamptz NOT NULL,
         trigger text NOT NULL,
         horizon_start timestamptz NOT NULL,
         slot_minutes integer NOT NULL,
         status text NOT NULL,
         objective double precision NOT NULL,
         solve_ms double precision NOT NULL,
         grid_limit_kw double precision NOT NULL,
         site_kw jsonb NOT NULL,
         vehicles jsonb NOT NULL,
         inputs jsonb
       )`,
      `CREATE INDEX IF NOT EXISTS optimizer_plans_site_decided_idx ON optimizer_plans (site_id, decided_at, plan_id)`,
      `COMMENT ON TABLE optimizer_plans IS 'Every plan on optimizer.plans: planned site load per slot (site_kw, kW) and per-vehicle power (vehicles[].powerKw), with the solver status and the inputs it was decided from.'`,
    ],
  },
];

const num = (v: unknown) => (v instanceof Date ? v.getTime() : Number(v));

export const planRow = (r: Record<string, unknown>): unknown[] => {
  let inputs: unknown = null;
  try {
    inputs = JSON.parse(String(r.inputsJson ?? 'null'));
  } catch {
    inputs = { unparsed: String(r.inputsJson) };
  }
  const vehicles = (r.vehicles as Record<string, unknown>[]).map((v) => ({ ...v, departAt: v.departAt === null || v.departAt === undefined ? null : num(v.departAt) }));
  return [
    r.planId, r.siteId, new Date(num(r.decidedAt)).toISOString(), r.trigger, new Date(num(r.horizonStart)).toISOString(), r.slotMinutes, r.status,
    r.objective, r.solveMs, r.gridLimitKw, JSON.stringify(r.siteKw), JSON.stringify(vehicles), JSON.stringify(inputs),
  ];
};

export const insertPlans = async (pool: Pool, schema: string, records: readonly Record<string, unknown>[]): Promise<void> => {
  if (records.length === 0) return;
  const values: unknown[] = [];
  const tuples = records.map((r) => {
    const row = planRow(r);
    const base = values.length;
    values.push(...row);
    return `(${row.map((_v, i) => `$${base + i + 1}`).join(', ')})`;
  });
  await pool.query(
    `INSERT INTO ${quoteIdent(schema)}.optimizer_plans (plan_id, site_id, decided_at, trigger, horizon_start, slot_minutes, status, objective, solve_ms, grid_limit_kw, site_kw, vehicles, inputs)
     VALUES ${tuples.join(', ')} ON CONFLICT (plan_id) DO NOTHING`,
    values,
  );
};

export const startPlansProjection = async (ctx: ServiceContext, opts: { schema: string; groupId?: string }): Promise<ConsumerComponent> => {
  const groupId = opts.groupId ?? 'api-plans-projection';
  const consumer = ctx.kafka.consumer({ groupId, maxWaitTimeInMs: 500 });
  const died = consumerDied(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic: Topics.optimizerPlans, fromBeginning: true });
  await consumer.run({
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }) => {
      const records: Record<string, unknown>[] = [];
      for (const m of batch.messages) {
        if (!m.value) continue;
        try {
          records.push(await ctx.serde.decode<Record<string, unknown>>(m.value));
        } catch (e) {
          ctx.log.warn('plans projection: unreadable optimizer.plans record skipped', { partition: batch.partition, offset: m.offset, err: e });
        }
      }
      // Short statements: the embedded database has one connection.
      for (let i = 0; i < records.length; i += 200) await insertPlans(ctx.pool, opts.schema, records.slice(i, i + 200));
      const last = batch.messages[batch.messages.length - 1];
      if (last) resolveOffset(last.offset);
      await commitOffsetsIfNecessary();
      await heartbeat();
    },
  });
  return { topics: [Topics.optimizerPlans], groupId, consumers: [consumer], died, stop: () => consumer.disconnect() };
};
