import { TableDef } from '../sink/table';
import { commandsTable } from './commands';
import { limitEventsTable } from './limit-events';
import { siteMeterReadingsTable } from './site-meters';
import { idTokenChangesTable, idTokensTable, reservationsTable } from './id-tokens';
import { deviceModelChangesTable, deviceModelTable, tokenDecisionsTable } from './device-model';
import { vehicleForecastHistoryTable } from './vehicle-forecast/projection';

/** Every projection table, in the schema the projections service migrates (default `projections`). These are the
 *  contract with services/api (history endpoints, SQL views for data teams) and services/optimizer (vehicle state).
 *  Times are timestamptz, energies Wh, powers W, SoC percent. Each table is a deterministic fold over the log:
 *  `voltstream replay` rebuilds them into a fresh schema and compares digests. */

const t = (name: string, type: TableDef['columns'][number]['type'], doc: string, nullable = false) => ({ name, type, doc, nullable });
const n = (name: string, type: TableDef['columns'][number]['type'], doc: string) => t(name, type, doc, true);

/** Current state of each charger's connection (charging.events: ChargerConnected/Disconnected/Booted/HeartbeatReceived). */
export const chargerStatus: TableDef = {
  name: 'charger_status',
  doc: 'Current connection state of each charger: online from connect/boot/heartbeat, offline from disconnect.',
  key: ['charge_point_id'],
  columns: [
    t('charge_point_id', 'text', 'OCPP charge point id'),
    t('online', 'bool', 'connected to a gateway (the view charger_online also checks heartbeat age)'),
    n('protocol', 'text', 'ocpp1.6 or ocpp2.0.1'),
    n('gateway_id', 'text', 'gateway holding the connection'),
    n('vendor', 'text', 'from the last BootNotification'),
    n('model', 'text', 'from the last BootNotification'),
    n('serial_number', 'text', 'from the last BootNotification'),
    n('firmware_version', 'text', 'from the last BootNotification'),
    n('boot_accepted', 'bool', 'whether the last BootNotification was accepted'),
    n('heartbeat_interval_s', 'int', 'heartbeat interval granted at boot'),
    n('connected_at', 'timestamptz', 'last connect'),
    n('disconnected_at', 'timestamptz', 'last disconnect'),
    n('disconnect_reason', 'text', 'reason of the last disconnect'),
    n('booted_at', 'timestamptz', 'last BootNotification'),
    n('last_heartbeat_at', 'timestamptz', 'last Heartbeat'),
    t('last_seen_at', 'timestamptz', 'time of the last event of any kind from this charger'),
  ],
};

/** Current status of each connector (2.0.1: EVSE) (charging.events: ConnectorStatusChanged, SessionStarted/Ended). */
export const connectorStatus: TableDef = {
  name: 'connector_status',
  doc: 'Current status of each connector (1.6 connectorId, 2.0.1 evseId; 0 = the charger itself).',
  key: ['charge_point_id', 'connector_id'],
  columns: [
    t('charge_point_id', 'text', 'OCPP charge point id'),
    t('connector_id', 'int', '1.6 connectorId / 2.0.1 evseId; 0 is the whole charger'),
    t('status', 'text', 'Available, Preparing, Charging, SuspendedEV, SuspendedEVSE, Finishing, Reserved, Unavailable, Faulted'),
    n('error_code', 'text', 'OCPP error code (1.6), null when NoError'),
    n('info', 'text', 'free text from the charger'),
    t('since', 'timestamptz', 'when the connector entered this status'),
    n('session_id', 'text', 'session running on this connector, if any'),
  ],
};

/** Status history: every connector status change plus charger Online/Offline/Booted (time series). */
export const chargerStatusHistory: TableDef = {
  name: 'charger_status_history',
  doc: 'Every connector status change, and charger-level (connector_id 0) Online / Offline / Booted transitions.',
  key: ['at', 'event_id'],
  time: 'at',
  segmentBy: 'charge_point_id',
  columns: [
    t('at', 'timestamptz', 'when the status changed (charger clock when it said, else gateway receive time)'),
    t('charge_point_id', 'text', 'OCPP charge point id'),
    t('connector_id', 'int', '0 for charger-level rows'),
    t('status', 'text', 'connector status, or Online / Offline / Booted for connector 0'),
    n('error_code', 'text', 'OCPP error code'),
    n('info', 'text', 'free text, or disconnect reason'),
    t('event_id', 'text', 'charging.events eventId'),
    n('charger_at', 'timestamptz', "the charger's own time when it was implausible (over 1 day ahead of the time the log received the event, or before 2015); the time column then holds the receive time. Null otherwise"),
  ],
};

/** Charging sessions (charging.events: SessionStarted/Ended, MeterSampled, ChargerReportedSoc, VehicleMatched). */
export const sessions: TableDef = {
  name: 'sessions',
  doc: 'One row per charging session (1.6 transaction / 2.0.1 transaction), with energy and the matched vehicle.',
  key: ['session_id'],
  columns: [
    t('session_id', 'text', '<chargePointId>:<transactionId>'),
    t('charge_point_id', 'text', 'OCPP charge point id'),
    t('connector_id', 'int', 'connector / EVSE'),
    t('transaction_id', 'text', 'OCPP transaction id'),
    n('id_tag', 'text', 'id tag / id token that authorised the session'),
    t('started_at', 'timestamptz', 'session start (charger clock)'),
    n('ended_at', 'timestamptz', 'session end, null while active'),
    t('active', 'bool', 'true until SessionEnded'),
    t('meter_start_wh', 'double', 'energy register at start, Wh'),
    n('meter_stop_wh', 'double', 'energy register at stop, Wh'),
    t('energy_wh', 'double', 'energy delivered, Wh: final at end, from the latest register sample while active'),
    n('stop_reason', 'text', 'OCPP stop reason'),
    n('last_meter_at', 'timestamptz', 'time of the latest meter sample of the session'),
    n('charger_soc_pct', 'double', 'latest SoC the charger reported in this session'),
    n('charger_soc_at', 'timestamptz', 'time of that SoC'),
    n('vehicle_id', 'text', 'matched vehicle (VehicleMatched), null while unmatched'),
    n('match_confidence', 'double', '0..1'),
    n('match_method', 'text', 'idTag, telematics, energy'),
    t('match_corrections', 'int', 'how many times the match was corrected'),
  ],
};

/** Meter values: every sampled value of every measurand and phase (charging.events: MeterSampled). */
export const meterValues: TableDef = {
  name: 'meter_values',
  doc: 'Every meter sample: all measurands, phases, locations; units normalized (Wh, W, A, V, Percent, ...).',
  key: ['at', 'event_id', 'idx'],
  // Four rows or more per event and the most written table: the sink's offsets keep it free of repeats.
  keyIndexed: false,
  time: 'at',
  segmentBy: 'charge_point_id',
  columns: [
    t('at', 'timestamptz', 'sample time (charger clock)'),
    t('charge_point_id', 'text', 'OCPP charge point id'),
    t('connector_id', 'int', 'connector / EVSE'),
    n('session_id', 'text', 'session the sample belongs to, if any'),
    t('measurand', 'text', 'OCPP measurand, e.g. Energy.Active.Import.Register, Power.Active.Import, SoC'),
    n('phase', 'text', 'L1, L2, L3, N, L1-N, ... or null for the total'),
    n('location', 'text', 'Outlet, Inlet, EV, Body, Cable'),
    n('context', 'text', 'Sample.Periodic, Transaction.Begin, ...'),
    t('unit', 'text', 'normalized unit: Wh, W, A, V, Percent, Celsius, Hz, varh, var'),
    t('value', 'double', 'value in that unit'),
    t('event_id', 'text', 'charging.events eventId'),
    t('idx', 'int', 'position of the sample in the event'),
    n('charger_at', 'timestamptz', "the charger's own time when it was implausible (over 1 day ahead of the time the log received the event, or before 2015); the time column then holds the receive time. Null otherwise"),
  ],
};

/** Telematics readings (telematics.readings), de-duplicated by readingId. */
export const telematicsReadings: TableDef = {
  name: 'telematics_readings',
  doc: 'Every normalized vehicle telematics reading (percent, km, kWh).',
  key: ['reading_at', 'reading_id'],
  time: 'reading_at',
  segmentBy: 'vehicle_id',
  columns: [
    t('reading_at', 'timestamptz', 'when the vehicle measured it'),
    t('reading_id', 'text', 'deterministic from provider and provider reading id'),
    t('vehicle_id', 'text', 'vehicle id'),
    t('provider', 'text', 'telematics provider'),
    t('received_at', 'timestamptz', 'when the ingest received it'),
    n('soc_pct', 'double', 'state of charge, percent'),
    n('range_km', 'double', 'remaining range'),
    n('odometer_km', 'double', 'odometer'),
    n('latitude', 'double', 'position'),
    n('longitude', 'double', 'position'),
    n('charging_state', 'text', 'CHARGING, NOT_CHARGING, COMPLETE, FAULT, UNKNOWN'),
    n('plugged_in', 'bool', 'cable plugged in'),
    n('battery_capacity_kwh', 'double', 'capacity reported by the provider'),
    n('eta_at', 'timestamptz', 'expected arrival at the depot'),
  ],
};

/** Latest vehicle facts per source (telematics.readings; charging.events: SocEstimated, SocEstimateChecked).
 *  The view vehicle_soc picks the SoC to trust (telematics, charger or estimate) and its age. */
export const vehicleState: TableDef = {
  name: 'vehicle_state',
  doc: 'Latest telematics and estimated SoC per vehicle; charger-reported SoC sits in sessions. Read vehicle_soc for the best SoC.',
  key: ['vehicle_id'],
  columns: [
    t('vehicle_id', 'text', 'vehicle id'),
    n('telematics_soc_pct', 'double', 'latest SoC from telematics'),
    n('telematics_at', 'timestamptz', 'reading time of that SoC'),
    n('telematics_reading_id', 'text', 'readingId of that SoC'),
    n('last_reading_at', 'timestamptz', 'latest telematics reading of any kind'),
    n('last_reading_id', 'text', 'its readingId'),
    n('plugged_in', 'bool', 'plugged in, per the latest reading'),
    n('charging_state', 'text', 'charging state, per the latest reading'),
    n('latitude', 'double', 'position, per the latest reading'),
    n('longitude', 'double', 'position, per the latest reading'),
    n('estimate_soc_pct', 'double', 'latest SoC estimate (telematics silent, charger without SoC)'),
    n('estimate_uncertainty_pct', 'double', 'its uncertainty, percentage points'),
    n('estimate_at', 'timestamptz', 'time of the estimate'),
    n('estimate_session_id', 'text', 'session whose delivered energy the estimate used'),
    n('estimate_event_id', 'text', 'eventId of the estimate'),
    n('last_estimate_error_pct', 'double', 'estimate minus telematics SoC when telematics returned'),
    n('last_estimate_checked_at', 'timestamptz', 'when that check happened'),
  ],
};

/** Every SoC value seen, from any source (time series for SoC curves). */
export const socHistory: TableDef = {
  name: 'soc_history',
  doc: 'Every SoC value: telematics readings, charger-reported SoC (vehicle via sessions.vehicle_id), estimates.',
  key: ['at', 'event_id'],
  time: 'at',
  segmentBy: 'vehicle_id',
  columns: [
    t('at', 'timestamptz', 'time of the value'),
    n('vehicle_id', 'text', 'vehicle (null for charger rows: join sessions; the view vehicle_soc_history does)'),
    n('session_id', 'text', 'session, for charger and estimate rows'),
    n('charge_point_id', 'text', 'charger, for charger rows'),
    t('source', 'text', 'telematics, charger or estimate'),
    t('soc_pct', 'double', 'percent'),
    n('uncertainty_pct', 'double', 'estimates only, percentage points'),
    t('event_id', 'text', 'charging.events eventId or telematics readingId'),
    n('charger_at', 'timestamptz', "the charger's own time when it was implausible (over 1 day ahead of the time the log received the event, or before 2015); the time column then holds the receive time. Null otherwise"),
  ],
};

/** Estimate accuracy: each SocEstimateChecked. */
export const socEstimateChecks: TableDef = {
  name: 'soc_estimate_checks',
  doc: 'When telematics returned after an outage: the last estimate, the reported SoC and the error.',
  key: ['at', 'event_id'],
  time: 'at',
  columns: [
    t('at', 'timestamptz', 'time of the check (the returning telematics reading)'),
    t('vehicle_id', 'text', 'vehicle'),
    t('estimated_soc_pct', 'double', 'the estimate'),
    t('reported_soc_pct', 'double', 'telematics SoC'),
    t('error_pct', 'double', 'estimated minus reported, percentage points'),
    t('event_id', 'text', 'charging.events eventId'),
    n('charger_at', 'timestamptz', "the charger's own time when it was implausible (over 1 day ahead of the time the log received the event, or before 2015); the time column then holds the receive time. Null otherwise"),
  ],
};

/** Every vehicle ↔ session match and correction (charging.events: VehicleMatched). */
export const vehicleMatches: TableDef = {
  name: 'vehicle_matches',
  doc: 'Every vehicle-to-session match, with confidence; corrections have replaces_vehicle_id.',
  key: ['at', 'event_id'],
  time: 'at',
  columns: [
    t('at', 'timestamptz', 'when the match was decided (event time)'),
    t('session_id', 'text', 'session'),
    t('charge_point_id', 'text', 'charger'),
    t('vehicle_id', 'text', 'vehicle'),
    t('confidence', 'double', '0..1'),
    t('method', 'text', 'idTag, telematics, energy'),
    n('replaces_vehicle_id', 'text', 'the earlier, corrected match'),
    t('event_id', 'text', 'charging.events eventId'),
    n('charger_at', 'timestamptz', "the charger's own time when it was implausible (over 1 day ahead of the time the log received the event, or before 2015); the time column then holds the receive time. Null otherwise"),
  ],
};

/** Outcomes of commands sent to chargers (charging.events: CommandCompleted), e.g. profile accepted / rejected. */
export const commandOutcomes: TableDef = {
  name: 'command_outcomes',
  doc: 'Outcome of each ocpp.commands command (SetChargingProfile accepted / rejected, ...).',
  key: ['at', 'event_id'],
  time: 'at',
  columns: [
    t('at', 'timestamptz', 'completion time'),
    t('charge_point_id', 'text', 'charger'),
    t('command_id', 'text', 'ocpp.commands command id'),
    t('action', 'text', 'OCPP action'),
    t('outcome', 'text', 'ACCEPTED, REJECTED, CALLERROR, TIMEOUT, OFFLINE, INVALID, EXPIRED'),
    n('detail', 'text', 'why'),
    t('event_id', 'text', 'charging.events eventId'),
    n('charger_at', 'timestamptz', "the charger's own time when it was implausible (over 1 day ahead of the time the log received the event, or before 2015); the time column then holds the receive time. Null otherwise"),
  ],
};

/** Fleet configuration as last configured (fleet.config). */
export const fleetSites: TableDef = {
  name: 'fleet_sites',
  doc: 'Sites as last configured (fleet.config SiteConfigured).',
  key: ['site_id'],
  columns: [
    t('site_id', 'text', 'site id'),
    t('name', 'text', 'name'),
    t('grid_limit_kw', 'double', 'grid connection limit, kW'),
    t('latitude', 'double', 'location'),
    t('longitude', 'double', 'location'),
    t('timezone', 'text', 'IANA time zone'),
    t('configured_at', 'timestamptz', 'time of the configuration event'),
  ],
};

export const fleetChargers: TableDef = {
  name: 'fleet_chargers',
  doc: 'Chargers as last configured (fleet.config ChargerConfigured); no secrets.',
  key: ['charge_point_id'],
  columns: [
    t('charge_point_id', 'text', 'OCPP charge point id'),
    t('site_id', 'text', 'site'),
    t('max_power_kw', 'double', 'maximum power, kW'),
    n('owner_partner_id', 'text', 'partner operating the charger'),
    t('phases', 'int', 'AC phases'),
    t('current_type', 'text', 'AC or DC'),
    t('configured_at', 'timestamptz', 'time of the configuration event'),
  ],
};

export const fleetVehicles: TableDef = {
  name: 'fleet_vehicles',
  doc: 'Vehicles as last configured (fleet.config VehicleConfigured).',
  key: ['vehicle_id'],
  columns: [
    t('vehicle_id', 'text', 'vehicle id'),
    t('battery_capacity_kwh', 'double', 'usable battery capacity, kWh'),
    t('max_ac_power_kw', 'double', 'kW'),
    t('max_dc_power_kw', 'double', 'kW'),
    t('consumption_kwh_per_km', 'double', 'kWh/km'),
    t('id_tags', 'jsonb', 'id tags (RFID / id tokens) that identify the vehicle, JSON array'),
    n('telematics_provider', 'text', 'provider'),
    n('site_id', 'text', 'home site'),
    t('configured_at', 'timestamptz', 'time of the configuration event'),
  ],
};

export const fleetDepartures: TableDef = {
  name: 'fleet_departures',
  doc: 'Latest departure scheduled per vehicle (fleet.config DepartureScheduled).',
  key: ['vehicle_id'],
  columns: [
    t('vehicle_id', 'text', 'vehicle id'),
    t('departure_id', 'text', 'departure id'),
    t('depart_at', 'timestamptz', 'planned departure'),
    n('required_soc_pct', 'double', 'percent'),
    n('required_energy_kwh', 'double', 'kWh'),
    n('route_km', 'double', 'km'),
    t('priority', 'int', 'priority'),
    t('configured_at', 'timestamptz', 'time of the configuration event'),
  ],
};

/** Every table a replay rebuilds and digests. */
/** Plans the optimizer decided (optimizer.plans). */
export const optimizerPlans: TableDef = {
  name: 'optimizer_plans',
  doc: 'Every plan on optimizer.plans: planned site load per slot (site_kw, kW) and per-vehicle power (vehicles[].powerKw), with the solver status and the inputs it was decided from.',
  key: ['plan_id'],
  columns: [
    t('plan_id', 'text', 'plan id'),
    t('site_id', 'text', 'site id'),
    t('decided_at', 'timestamptz', 'when the optimizer decided it'),
    t('trigger', 'text', 'what made it plan (comma-separated reasons)'),
    t('horizon_start', 'timestamptz', 'start of the first slot'),
    t('slot_minutes', 'int', 'slot length, minutes'),
    t('status', 'text', 'solver status'),
    t('objective', 'double', 'objective value'),
    t('solve_ms', 'double', 'solve time, ms'),
    t('grid_limit_kw', 'double', 'grid limit planned against, kW'),
    t('site_kw', 'jsonb', 'planned site load per slot, kW (JSON array)'),
    t('vehicles', 'jsonb', 'per vehicle: charger, connector, power per slot (kW), target, planned and short energy (kWh), departure (JSON)'),
    n('inputs', 'jsonb', 'the snapshot the plan was decided from (JSON)'),
    n('at_risk', 'jsonb', 'vehicles not back yet that may leave short: vehicleId, reason, detail, shortKwh (JSON array; null before the field existed)'),
  ],
};

export const projectionTables: readonly TableDef[] = [
  chargerStatus,
  connectorStatus,
  chargerStatusHistory,
  sessions,
  meterValues,
  telematicsReadings,
  vehicleState,
  socHistory,
  socEstimateChecks,
  vehicleMatches,
  commandOutcomes,
  fleetSites,
  fleetChargers,
  fleetVehicles,
  fleetDepartures,
  limitEventsTable,
  optimizerPlans,
  commandsTable,
  siteMeterReadingsTable,
  idTokensTable,
  idTokenChangesTable,
  reservationsTable,
  deviceModelTable,
  deviceModelChangesTable,
  tokenDecisionsTable,
  vehicleForecastHistoryTable,
];
