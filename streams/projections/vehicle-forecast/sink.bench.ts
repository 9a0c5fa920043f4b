/** What vehicle_forecast_history adds to the projections sink: telematics readings (the input it sees most) applied
 *  through the sink's batch apply (streams/sink/apply.ts), in chunks of 2,000 in one transaction each, with every
 *  projection and, as the baseline in the same run, every projection but this one. Vehicles start with eight weeks of
 *  history (a full row). PostgreSQL at DATABASE_URL (default the test database), fresh schemas, dropped after.
 *  `npx tsx streams/projections/vehicle-forecast/sink.bench.ts [vehicles=200] [readings per vehicle=50]` */
import * as os from 'node:os';
import { randomUUID } from 'node:crypto';
import { migrate } from '../../../infra/database/migrate';
import { createPool, quoteIdent } from '../../../services/common/db';
import { applyBatch } from '../../sink/apply';
import { projections } from '../index';
import { projectionMigrations } from '../migrations';
import { Projection, ProjectionInput } from '../projection';
import { routineInputs } from './history-fixture';
import { localInstant } from './stats';
import { vehicleForecastHistoryProjection } from './projection';

const vehicles = Number(process.argv[2] ?? 200);
const perVehicle = Number(process.argv[3] ?? 50);
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const tz = 'Europe/Berlin';
const monday = Date.UTC(2026, 10, 1, 23, 0);
const workday = (d: number) => (1 + d) % 7 >= 1 && (1 + d) % 7 <= 5;

const history: ProjectionInput[] = [];
for (let v = 0; v < vehicles; v++)
  history.push(
    ...routineInputs({
      vehicleId: `V${v}`, siteId: 'north', batteryCapacityKwh: 80, timeZone: tz, from: monday, days: 56,
      returnOn: (d) => (workday(d) ? { minute: 16 * 60 + ((v * 7 + d * 13) % 180), socPct: 20 + ((v + d) % 30) } : null),
      departNextDay: (d) => (workday(d + 1) ? { minute: 5 * 60 + (v % 120), requiredSocPct: 80 } : null),
    }),
  );
const start = localInstant(monday, 56, 8 * 60, tz);
const readings: ProjectionInput[] = [];
for (let k = 0; k < perVehicle; k++)
  for (let v = 0; v < vehicles; v++) {
    const at = start + k * 60_000 + v;
    readings.push({ kind: 'reading', reading: { readingId: `V${v}:b:${k}`, vehicleId: `V${v}`, provider: 'p', providerReadingId: `${k}`, readingAt: at, receivedAt: at, socPct: 50 + (k % 40), rangeKm: null, odometerKm: null, latitude: 52.5, longitude: 13.4, chargingState: 'NOT_CHARGING', pluggedIn: false, batteryCapacityKwh: null, etaAt: at + 3600_000 } });
  }

const run = async (label: string, ps: readonly Projection[]): Promise<number> => {
  const schema = `bench_fc_${randomUUID().slice(0, 8)}`;
  const pool = createPool({ url, embedded: false, schema, max: 2 });
  try {
    await migrate(pool, schema, projectionMigrations);
    const client = await pool.connect();
    try {
      const apply = async (inputs: readonly ProjectionInput[]) => {
        for (let k = 0; k < inputs.length; k += 2000) {
          await client.query('BEGIN');
          await applyBatch(client, ps, inputs.slice(k, k + 2000));
          await client.query('COMMIT');
        }
      };
      await apply(history);
      const t0 = performance.now();
      await apply(readings);
      const ms = performance.now() - t0;
      console.log(`${label}: ${readings.length} readings in ${ms.toFixed(0)} ms = ${((readings.length / ms) * 1000).toFixed(0)} readings/s`);
      return ms;
    } finally {
      client.release();
    }
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch(() => undefined);
    await pool.end();
  }
};

const main = async () => {
  console.log(`${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; ${vehicles} vehicles with 8 weeks of history (${history.length} records), then ${readings.length} readings`);
  const without = projections.filter((p) => p !== vehicleForecastHistoryProjection);
  const a = await run('baseline: every projection but vehicle_forecast_history', without);
  const b = await run('every projection', projections);
  const a2 = await run('baseline again', without);
  const b2 = await run('every projection again', projections);
  console.log(`vehicle_forecast_history adds ${(((b + b2) / (a + a2) - 1) * 100).toFixed(0)} % to the readings' apply time (${(((b + b2 - a - a2) / 2 / readings.length) * 1000).toFixed(0)} µs per reading)`);
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
