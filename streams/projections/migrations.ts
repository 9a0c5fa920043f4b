import { Migration } from '../../infra/database/migrate';
import { commentSql, createTableSql } from '../sink/table';
import { LOAD_AGGREGATE, loadAggregateSelect, loadTableMigration, siteLoadViewSql } from './load-aggregate';
import { optimizerPlans, projectionTables } from './tables';
import { CHARGER_TIME_COLUMN } from './charger-time';
import { commandsMigration } from './commands';
import { limitEventsMigration } from './limit-events';
import { siteMetersMigration } from './site-meters';
import { idTokenMigration } from './id-tokens';
import { deviceModelMigration } from './device-model';
import { vehicleForecastMigration } from './vehicle-forecast/projection';

/** Projection schema (default `projections`; a replay migrates a fresh schema with the same list).
 *
 *  Tables (columns and their meaning: ./tables.ts, also as SQL COMMENTs):
 *   charger_status          current connection state per charger (online, boot info, last heartbeat)
 *   connector_status        current status per connector / EVSE
 *   charger_status_history  every status change, charger Online/Offline/Booted as connector 0   (time series)
 *   sessions                one row per session: start, stop, energy, id tag, charger SoC, matched vehicle
 *   meter_values            every sampled value, all measurands and phases                      (time series)
 *   telematics_readings     every vehicle reading                                                (time series)
 *   vehicle_state           latest telematics SoC / position / plug state and latest estimate per vehicle
 *   soc_history             every SoC value from telematics, charger and estimates               (time series)
 *   soc_estimate_checks     estimate error when telematics came back                             (time series)
 *   vehicle_matches         every vehicle ↔ session match and correction                         (time series)
 *   command_outcomes        outcome of each command (profile accepted / rejected ...)            (time series)
 *   fleet_sites, fleet_chargers, fleet_vehicles, fleet_departures   configuration as last set (fleet.config)
 *   optimizer_plans         every plan the optimizer decided (optimizer.plans)
 *   commands                every command for a charger with its outcome (ocpp.commands + ocpp.command-results; ./commands.ts)
 *   site_meter_readings     every reading of a site's connection meter and sub-meters (site.meter-readings; ./site-meters.ts) (time series)
 *   vehicle_forecast_history per vehicle: returns, SoC at return and departures of the last 8 weeks, for forecasts (./vehicle-forecast)
 *   stream_offsets          consumer offsets stored in the same transaction as the rows (exactly once)
 *
 *  Views:
 *   charger_load_15m   continuous aggregate (TimescaleDB) / table refreshed from where it changed (PostgreSQL): power per charger and
 *                      connector in 15-minute buckets from Power.Active.Import totals; refreshed by the projections service
 *   site_load_15m      site load per 15-minute bucket (sum over the site's chargers), with the grid limit
 *   vehicle_soc        the SoC to trust per vehicle: source telematics | charger | estimate, its time and age
 *   vehicle_soc_history soc_history with the vehicle filled in for charger rows (via sessions)
 *   charger_online     charger_status plus online_now: connected and heard from within 2.5 heartbeat intervals
 *   building_load_15m  building load per 15-minute bucket: connection meter − chargers (./site-meters.ts)
 */
export const offsetsTable = `CREATE TABLE IF NOT EXISTS stream_offsets (
  consumer text NOT NULL,
  topic text NOT NULL,
  partition integer NOT NULL,
  next_offset bigint NOT NULL,
  PRIMARY KEY (consumer, topic, partition)
)`;

export const projectionMigrations: readonly Migration[] = [
  {
    id: 'streams-001-tables',
    up: (d) => [
      offsetsTable,
      ...projectionTables.flatMap((t) => [
        createTableSql(t),
        ...commentSql(t),
        ...(t.time ? d.timeSeries(t.name, t.time, { ...(t.segmentBy ? { segmentBy: t.segmentBy } : {}), chunk: '7 days' }) : []),
      ]),
      `CREATE INDEX IF NOT EXISTS sessions_charger_started_idx ON sessions (charge_point_id, started_at)`,
      `CREATE INDEX IF NOT EXISTS sessions_vehicle_started_idx ON sessions (vehicle_id, started_at)`,
      `CREATE INDEX IF NOT EXISTS sessions_started_idx ON sessions (started_at)`,
    ],
  },
  {
    id: 'streams-002-views',
    up: (d) => [
      ...d.aggregateView(LOAD_AGGREGATE, loadAggregateSelect(d)),
      d.refreshAggregate(LOAD_AGGREGATE),
      siteLoadViewSql(LOAD_AGGREGATE),
      `CREATE OR REPLACE VIEW vehicle_soc AS
       WITH ids AS (SELECT vehicle_id FROM fleet_vehicles UNION SELECT vehicle_id FROM vehicle_state)
       SELECT ids.vehicle_id, best.soc_pct, best.source, best.at AS soc_at,
         EXTRACT(EPOCH FROM (now() - best.at)) AS age_s, best.uncertainty_pct,
         v.plugged_in, v.charging_state, v.latitude, v.longitude, cs.session_id AS charger_session_id
       FROM ids
       LEFT JOIN vehicle_state v ON v.vehicle_id = ids.vehicle_id
       LEFT JOIN LATERAL (
         SELECT s.session_id, s.charger_soc_pct, s.charger_soc_at FROM sessions s
         WHERE s.vehicle_id = ids.vehicle_id AND s.charger_soc_at IS NOT NULL
         ORDER BY s.charger_soc_at DESC LIMIT 1) cs ON true
       LEFT JOIN LATERAL (
         SELECT c.* FROM (VALUES
           ('telematics', v.telematics_soc_pct, v.telematics_at, 0.0::double precision, 1),
           ('charger', cs.charger_soc_pct, cs.charger_soc_at, 0.0::double precision, 2),
           ('estimate', v.estimate_soc_pct, v.estimate_at, v.estimate_uncertainty_pct, 3)
         ) AS c(source, soc_pct, at, uncertainty_pct, prio)
         WHERE c.soc_pct IS NOT NULL
           AND NOT (c.source = 'estimate' AND cs.session_id IS NOT NULL AND cs.session_id = v.estimate_session_id)
         ORDER BY c.at DESC, c.prio LIMIT 1) best ON true`,
      `CREATE OR REPLACE VIEW vehicle_soc_history AS
       SELECT h.at, COALESCE(h.vehicle_id, s.vehicle_id) AS vehicle_id, h.session_id, h.charge_point_id, h.source,
         h.soc_pct, h.uncertainty_pct, h.event_id
       FROM soc_history h LEFT JOIN sessions s ON s.session_id = h.session_id`,
      `CREATE OR REPLACE VIEW charger_online AS
       SELECT c.*, (c.online AND c.last_seen_at > now() - make_interval(secs => 2.5 * COALESCE(c.heartbeat_interval_s, 300))) AS online_now
       FROM charger_status c`,
    ],
  },
  {
    // vehicle_state gained tie-break ids (order-independent fold); tables created by streams-001 before that get them here.
    id: 'streams-003-vehicle-state-ids',
    up: () => ['telematics_reading_id', 'last_reading_id', 'estimate_event_id'].map((c) => `ALTER TABLE vehicle_state ADD COLUMN IF NOT EXISTS ${c} text`),
  },
  {
    // Cheaper writes (streams/README.md, benchmark). meter_values: no unique index on its key (tables.ts, keyIndexed);
    // tables streams-001 created before that lose theirs here. Current-state tables, updated at nearly every event:
    // room on each page for the new version of a row, so an update that changes no indexed column leaves the indexes
    // alone (heap-only tuples).
    id: 'streams-004-write-cost',
    up: () => [
      `ALTER TABLE meter_values DROP CONSTRAINT IF EXISTS meter_values_pkey`,
      ...['charger_status', 'connector_status', 'sessions', 'vehicle_state'].map((t) => `ALTER TABLE ${t} SET (fillfactor = 70)`),
    ],
  },
  {
    // Plain PostgreSQL: the load aggregate becomes a table refreshed from where it changed (load-aggregate.ts).
    id: 'streams-005-load-aggregate-table',
    up: (d) => loadTableMigration(d),
  },
  {
    // The plans table moved here from the API's schema (api.optimizer_plans, no longer written), so that a replay
    // rebuilds and compares it like every other projection.
    id: 'streams-006-optimizer-plans',
    up: () => [createTableSql(optimizerPlans), ...commentSql(optimizerPlans), `CREATE INDEX IF NOT EXISTS optimizer_plans_site_decided_idx ON optimizer_plans (site_id, decided_at, plan_id)`],
  },
  {
    // Implausible charger times (charger-time.ts): the time column holds the receive time, the charger's own time is
    // kept here. Tables created before get the column.
    id: 'streams-007-charger-time',
    up: () =>
      projectionTables
        .filter((t) => t.columns.some((c) => c.name === CHARGER_TIME_COLUMN))
        .flatMap((t) => [`ALTER TABLE ${t.name} ADD COLUMN IF NOT EXISTS ${CHARGER_TIME_COLUMN} timestamptz`, ...commentSql(t).filter((c) => c.includes(`.${CHARGER_TIME_COLUMN} IS`))]),
  },
  {
    // Plans name the vehicles at risk (issue 18); tables created before get the column.
    id: 'streams-008-plans-at-risk',
    up: () => [`ALTER TABLE optimizer_plans ADD COLUMN IF NOT EXISTS at_risk jsonb`, ...commentSql(optimizerPlans).filter((c) => c.includes('.at_risk IS'))],
  },
  commandsMigration,
  limitEventsMigration,
  idTokenMigration,
  deviceModelMigration,
  siteMetersMigration,
  vehicleForecastMigration,
  {
    // The dashboard seeds its state from the latest samples of each charger (services/dashboard/seed-query.ts): an
    // index to walk one charger's samples backwards. Plain PostgreSQL has it from streams-001 under this name.
    id: 'streams-009-meter-values-by-charger',
    up: () => [`CREATE INDEX IF NOT EXISTS meter_values_charge_point_id_at_idx ON meter_values (charge_point_id, at)`],
  },
];
