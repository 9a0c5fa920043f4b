import { Migration } from '../../../infra/database/migrate';
import { evolveAll } from '../../runtime/fold';
import { commentSql, createTableSql, Row, TableDef } from '../../sink/table';
import { DocumentProjection } from '../projection';
import { ArrivalObservation, decide, DepartureObservation, evolve, initial, VehicleHistory, vehicleOf } from './fold';

/** vehicle_forecast_history: per vehicle, the returns (plug-ins), SoC at return and departures the log recorded over
 *  the last eight weeks (./fold.ts), from which GET /api/v1/vehicles/{id}/forecast computes the distributions by
 *  weekday and time of day with fallback to the vehicle's group and site (./stats.ts). One row per vehicle, changed by
 *  records of three topics (readings keyed by vehicle, matches keyed by charger, configuration): the sink locks the
 *  rows a batch touches (keysSpanPartitions). Rebuilt and compared by `voltstream replay --compare` like the others. */

const t = (name: string, type: TableDef['columns'][number]['type'], doc: string, nullable = false) => ({ name, type, doc, nullable });
const n = (name: string, type: TableDef['columns'][number]['type'], doc: string) => t(name, type, doc, true);

export const vehicleForecastHistoryTable: TableDef = {
  name: 'vehicle_forecast_history',
  doc:
    'Per vehicle, what the log recorded of its returns and departures over the last 8 weeks (at most 120 of each): the history ' +
    'GET /api/v1/vehicles/{id}/forecast learns return time, SoC at return and next departure from (streams/projections/vehicle-forecast).',
  key: ['vehicle_id'],
  columns: [
    t('vehicle_id', 'text', 'vehicle id'),
    n('site_id', 'text', 'home site (fleet.config VehicleConfigured)'),
    n('battery_capacity_kwh', 'double', 'usable battery capacity, kWh (VehicleConfigured)'),
    n('plugged_in', 'bool', 'plugged in, per the latest telematics reading that said'),
    n('plugged_at', 'timestamptz', 'reading time of the switch to that plug state (or of the first reading)'),
    n('last_soc_pct', 'double', 'a recent telematics SoC, percent (renewed every 15 minutes)'),
    n('last_soc_at', 'timestamptz', 'its reading time'),
    n('eta_at', 'timestamptz', 'expected arrival at the depot, per the reading at eta_reading_at (null when it had none)'),
    n('eta_reading_at', 'timestamptz', 'reading time of that ETA (renewed when the ETA appears, disappears or moves by 15 minutes)'),
    t(
      'arrivals',
      'jsonb',
      'returns, oldest first: [{id, at (epoch ms), source, socPct}]; source session (charging.events VehicleMatched, id = sessionId, at = match time) ' +
        'or telematics (pluggedIn false -> true, id = readingId, socPct = SoC at that reading or the last within an hour)',
    ),
    t(
      'departures',
      'jsonb',
      'departures, oldest first: [{id, at (epoch ms), source, recordedAt (epoch ms: when the log recorded it; the 8 weeks count from it), requiredSocPct, requiredEnergyKwh}]; source scheduled (fleet.config DepartureScheduled, ' +
        'id = departureId, at = departAt) or unplugged (telematics pluggedIn true -> false, id = readingId)',
    ),
  ],
};

export const vehicleForecastMigration: Migration = {
  id: 'streams-vehicle-forecast-001-table',
  up: () => [
    createTableSql(vehicleForecastHistoryTable),
    ...commentSql(vehicleForecastHistoryTable),
    `CREATE INDEX IF NOT EXISTS vehicle_forecast_history_site_idx ON vehicle_forecast_history (site_id)`,
    `ALTER TABLE vehicle_forecast_history SET (fillfactor = 70)`,
  ],
};

export const historyOfRow = (row: Row | undefined): VehicleHistory =>
  row === undefined
    ? initial
    : {
        siteId: (row.site_id as string | null) ?? null,
        batteryCapacityKwh: (row.battery_capacity_kwh as number | null) ?? null,
        pluggedIn: (row.plugged_in as boolean | null) ?? null,
        pluggedAt: (row.plugged_at as number | null) ?? null,
        lastSocPct: (row.last_soc_pct as number | null) ?? null,
        lastSocAt: (row.last_soc_at as number | null) ?? null,
        etaAt: (row.eta_at as number | null) ?? null,
        etaReadingAt: (row.eta_reading_at as number | null) ?? null,
        arrivals: (row.arrivals as ArrivalObservation[] | null) ?? [],
        departures: (row.departures as DepartureObservation[] | null) ?? [],
      };

export const rowOfHistory = (vehicleId: string, h: VehicleHistory): Row => ({
  vehicle_id: vehicleId,
  site_id: h.siteId,
  battery_capacity_kwh: h.batteryCapacityKwh,
  plugged_in: h.pluggedIn,
  plugged_at: h.pluggedAt,
  last_soc_pct: h.lastSocPct,
  last_soc_at: h.lastSocAt,
  eta_at: h.etaAt,
  eta_reading_at: h.etaReadingAt,
  arrivals: h.arrivals,
  departures: h.departures,
});

export const vehicleForecastHistoryProjection: DocumentProjection = {
  kind: 'document',
  table: vehicleForecastHistoryTable,
  keysSpanPartitions: true,
  keyOf: (i) => {
    const v = vehicleOf(i);
    return v === undefined ? undefined : [v];
  },
  evolve: (row, i) => {
    const v = vehicleOf(i);
    if (v === undefined) return row;
    const before = historyOfRow(row);
    const facts = decide(before, i);
    if (facts.length === 0) return row;
    return rowOfHistory(v, evolveAll(evolve, before, facts));
  },
};
