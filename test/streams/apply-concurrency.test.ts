import { PoolClient } from 'pg';
import { migrate } from '../../infra/database/migrate';
import { ChargingEvent } from '../../schemas/events';
import { projections } from '../../streams/projections/index';
import { projectionMigrations } from '../../streams/projections/migrations';
import { ProjectionInput } from '../../streams/projections/projection';
import { applyBatch } from '../../streams/sink/apply';
import { freshPgSchema, uniq } from '../support/stack';

/** Two partitions applied at once touch one vehicle_state row: a telematics reading (telematics.readings, keyed by
 *  vehicle) and an SoC estimate (charging.events, keyed by charger). Whichever commits second must fold on top of the
 *  first, not overwrite it with a fold of the row as it was before. */
describe('sink: two transactions changing the same vehicle', () => {
  it('the second waits for the first and keeps both changes', async () => {
    const s = await freshPgSchema('streams_lock');
    const [a, b] = [await s.pool.connect(), await s.pool.connect()];
    try {
      await migrate(s.pool, s.schema, projectionMigrations);
      const vehicleId = uniq('EV');
      const t0 = Date.UTC(2026, 0, 1, 8);
      const reading: ProjectionInput = {
        kind: 'reading',
        reading: { readingId: `${vehicleId}:r1`, vehicleId, provider: 'test', providerReadingId: 'p1', readingAt: t0, receivedAt: t0 + 500, socPct: 41, rangeKm: null, odometerKm: null, latitude: null, longitude: null, chargingState: 'CHARGING', pluggedIn: true, batteryCapacityKwh: 77, etaAt: null },
      };
      const estimate: ChargingEvent = {
        eventId: `${vehicleId}:e1`,
        chargePointId: 'CP-LOCK',
        occurredAt: t0 + 3_600_000,
        source: { topic: 'charging.events', partition: 1, offset: 7 },
        body: { type: 'SocEstimated', vehicleId, sessionId: 'CP-LOCK:1', socPct: 63, uncertaintyPct: 2.5, baseSocPct: 41, baseAt: t0, deliveredWhSinceBase: 17_000 },
      };
      const begin = (c: PoolClient) => c.query(`BEGIN; SET LOCAL search_path TO "${s.schema}", public`);
      await begin(a);
      await applyBatch(a, projections, [reading]);
      await begin(b);
      let secondDone = false;
      const second = applyBatch(b, projections, [{ kind: 'event', event: estimate }]).then(() => (secondDone = true));
      await new Promise((r) => setTimeout(r, 500));
      // The second transaction is waiting for the first to end.
      expect(secondDone).toBe(false);
      await a.query('COMMIT');
      await second;
      await b.query('COMMIT');
      const row = await s.pool.query(`SELECT telematics_soc_pct, plugged_in, estimate_soc_pct, estimate_uncertainty_pct FROM "${s.schema}".vehicle_state WHERE vehicle_id = $1`, [vehicleId]);
      expect(row.rows).toEqual([{ telematics_soc_pct: 41, plugged_in: true, estimate_soc_pct: 63, estimate_uncertainty_pct: 2.5 }]);
    } finally {
      a.release();
      b.release();
      await s.drop();
    }
  });
});
