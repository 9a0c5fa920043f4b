import { Migration } from '../../infra/database/migrate';
import { quoteIdent } from '../common/db';

/** SQL access for data teams: the schema `analytics` holds documented views over the projections, and the role `voltstream_analyst` may read those views and nothing else. The role is NOLOGIN: give
 *  each analyst a login role in it (services/api/ANALYTICS.md). Views run with their owner's rights, so members need
 *  no access to the projection schemas themselves. Roles are cluster-wide; the statements are idempotent. */
export const analystRole = 'voltstream_analyst';

export const analyticsMigrations = (s: { analytics: string; projections: string; api: string }): readonly Migration[] => {
  const V = quoteIdent(s.analytics);
  const P = quoteIdent(s.projections);
  const view = (name: string, doc: string, select: string) => [`CREATE OR REPLACE VIEW ${name} AS ${select}`, `COMMENT ON VIEW ${name} IS '${doc.replace(/'/g, "''")}'`];
  const plansView = view('optimizer_plans', 'Every optimizer plan: solver status, planned site load per slot (site_kw, kW) and per-vehicle power (vehicles, JSON).',
    `SELECT plan_id, site_id, decided_at, trigger, status, objective, solve_ms, grid_limit_kw, horizon_start, slot_minutes, site_kw, vehicles FROM ${P}.optimizer_plans`);
  return [
    {
      id: 'analytics-0001-views-and-role',
      up: () => [
        `DO $$ BEGIN
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${analystRole}') THEN CREATE ROLE ${analystRole} NOLOGIN; END IF;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
        ...view('sites', 'Sites as configured: grid limit (kW), location, time zone.',
          `SELECT site_id, name, grid_limit_kw, latitude, longitude, timezone, configured_at FROM ${P}.fleet_sites`),
        ...view('chargers', 'Chargers as configured, with their connection state now (online = connected and heard from recently).',
          `SELECT c.charge_point_id, c.site_id, c.max_power_kw, c.owner_partner_id, c.phases, c.current_type, c.configured_at,
             o.online_now AS online, o.protocol, o.vendor, o.model, o.firmware_version, o.last_seen_at
           FROM ${P}.fleet_chargers c LEFT JOIN ${P}.charger_online o ON o.charge_point_id = c.charge_point_id`),
        ...view('vehicles', 'Vehicles as configured: battery (kWh), power limits (kW), consumption (kWh/km), home site.',
          `SELECT vehicle_id, battery_capacity_kwh, max_ac_power_kw, max_dc_power_kw, consumption_kwh_per_km, telematics_provider, site_id, configured_at FROM ${P}.fleet_vehicles`),
        ...view('charger_status_history', 'Every connector status change; connector 0 rows are the charger going Online / Offline / Booted.',
          `SELECT at, charge_point_id, connector_id, status, error_code, info FROM ${P}.charger_status_history`),
        ...view('sessions', 'One row per charging session with energy (Wh), the matched vehicle and the site of the charger.',
          `SELECT s.session_id, s.charge_point_id, c.site_id, s.connector_id, s.transaction_id, s.id_tag, s.started_at, s.ended_at, s.active,
             s.energy_wh, s.energy_wh / 1000.0 AS energy_kwh, s.stop_reason, s.vehicle_id, s.match_confidence, s.match_method, s.charger_soc_pct
           FROM ${P}.sessions s LEFT JOIN ${P}.fleet_chargers c ON c.charge_point_id = s.charge_point_id`),
        ...view('meter_values', 'Every meter sample (units normalized: Wh, W, A, V, Percent, ...); phase null is the total.',
          `SELECT at, charge_point_id, connector_id, session_id, measurand, phase, location, context, unit, value FROM ${P}.meter_values`),
        ...view('energy_per_charger_day', 'Energy delivered per charger and UTC day, by session start (kWh), with the session count.',
          `SELECT date_trunc('day', s.started_at AT TIME ZONE 'UTC')::date AS day, s.charge_point_id, c.site_id,
             count(*) AS sessions, sum(s.energy_wh) / 1000.0 AS energy_kwh
           FROM ${P}.sessions s LEFT JOIN ${P}.fleet_chargers c ON c.charge_point_id = s.charge_point_id
           GROUP BY 1, s.charge_point_id, c.site_id`),
        ...view('soc_history', 'Every state-of-charge value per vehicle with its source: telematics, charger (via the matched session) or estimate.',
          `SELECT at, vehicle_id, source, soc_pct, uncertainty_pct, session_id, charge_point_id FROM ${P}.vehicle_soc_history`),
        ...view('vehicle_soc', 'The SoC to trust per vehicle now, its source and age in seconds.',
          `SELECT vehicle_id, soc_pct, source, soc_at, age_s, uncertainty_pct, plugged_in, charging_state FROM ${P}.vehicle_soc`),
        ...view('site_load_15m', 'Site load per 15-minute bucket: average power (kW), peak upper bound (kW), energy (kWh), against the grid limit.',
          `SELECT bucket, site_id, avg_power_kw, peak_power_kw_upper_bound, energy_kwh, chargers, grid_limit_kw FROM ${P}.site_load_15m`),
        ...plansView,
        `GRANT USAGE ON SCHEMA ${V} TO ${analystRole}`,
        `GRANT SELECT ON ALL TABLES IN SCHEMA ${V} TO ${analystRole}`,
      ],
    },
    {
      // The plans table moved from the API's schema to the projections (streams/projections/plans.ts).
      id: 'analytics-0002-plans-from-projections',
      up: () => [...plansView, `GRANT SELECT ON ALL TABLES IN SCHEMA ${V} TO ${analystRole}`],
    },
    {
      // Site meters (services/site-meters, streams/projections/site-meters.ts).
      id: 'analytics-0003-site-meters',
      up: () => [
        ...view('site_meter_readings', 'Every reading of a site meter: the grid connection (role connection) and sub-meters of panels; import (kW, negative when exporting), phase currents (A), voltage (V).',
          `SELECT measured_at, site_id, meter_id, role, panel_id, import_kw, l1_a, l2_a, l3_a, voltage_v, source FROM ${P}.site_meter_readings`),
        ...view('building_load_15m', 'Building load per site and 15-minute bucket: the connection meter’s mean import minus the chargers’ mean power (kW).',
          `SELECT bucket, site_id, connection_kw, connection_peak_kw, chargers_kw, building_kw, readings FROM ${P}.building_load_15m`),
        `GRANT SELECT ON ALL TABLES IN SCHEMA ${V} TO ${analystRole}`,
      ],
    },
  ];
};
