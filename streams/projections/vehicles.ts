import { Row } from '../sink/table';
import { AppendProjection, DocumentProjection, newer, ProjectionInput } from './projection';
import { socEstimateChecks, socHistory, telematicsReadings, vehicleState } from './tables';

/** telematics_readings: every reading (duplicates of a readingId are ignored by the primary key). */
export const telematicsReadingsProjection: AppendProjection = {
  kind: 'append',
  table: telematicsReadings,
  rows: (i) => {
    if (i.kind !== 'reading') return [];
    const r = i.reading;
    return [
      {
        reading_at: r.readingAt,
        reading_id: r.readingId,
        vehicle_id: r.vehicleId,
        provider: r.provider,
        received_at: r.receivedAt,
        soc_pct: r.socPct,
        range_km: r.rangeKm,
        odometer_km: r.odometerKm,
        latitude: r.latitude,
        longitude: r.longitude,
        charging_state: r.chargingState,
        plugged_in: r.pluggedIn,
        battery_capacity_kwh: r.batteryCapacityKwh,
        eta_at: r.etaAt,
      },
    ];
  },
};

const vehicleOf = (i: ProjectionInput): string | undefined => {
  if (i.kind === 'reading') return i.reading.vehicleId;
  if (i.kind === 'event' && (i.event.body.type === 'SocEstimated' || i.event.body.type === 'SocEstimateChecked')) return i.event.body.vehicleId;
  return undefined;
};

const emptyVehicle = (vehicle_id: string): Row => ({
  vehicle_id,
  telematics_soc_pct: null,
  telematics_at: null,
  telematics_reading_id: null,
  last_reading_at: null,
  last_reading_id: null,
  plugged_in: null,
  charging_state: null,
  latitude: null,
  longitude: null,
  estimate_soc_pct: null,
  estimate_uncertainty_pct: null,
  estimate_at: null,
  estimate_session_id: null,
  estimate_event_id: null,
  last_estimate_error_pct: null,
  last_estimate_checked_at: null,
});

/** vehicle_state: each group of columns keeps the latest value by its own time, so the row is the same whatever the
 *  interleaving of telematics.readings and charging.events (live consumption vs. replay). Ties break on the id. */
export const vehicleStateProjection: DocumentProjection = {
  kind: 'document',
  table: vehicleState,
  keysSpanPartitions: true,
  keyOf: (i) => {
    const v = vehicleOf(i);
    return v === undefined ? undefined : [v];
  },
  evolve: (row, i) => {
    const v = vehicleOf(i);
    if (v === undefined) return row;
    let s: Row = row ?? emptyVehicle(v);
    if (i.kind === 'reading') {
      const r = i.reading;
      if (r.socPct !== null && newer(r.readingAt, r.readingId, s.telematics_at as number | null, s.telematics_reading_id as string | null))
        s = { ...s, telematics_soc_pct: r.socPct, telematics_at: r.readingAt, telematics_reading_id: r.readingId };
      if (newer(r.readingAt, r.readingId, s.last_reading_at as number | null, s.last_reading_id as string | null))
        s = { ...s, last_reading_at: r.readingAt, last_reading_id: r.readingId, plugged_in: r.pluggedIn, charging_state: r.chargingState, latitude: r.latitude, longitude: r.longitude };
      return s;
    }
    if (i.kind !== 'event') return row;
    const e = i.event;
    const b = e.body;
    if (b.type === 'SocEstimated') {
      if (!newer(e.occurredAt, e.eventId, s.estimate_at as number | null, s.estimate_event_id as string | null)) return s;
      return { ...s, estimate_soc_pct: b.socPct, estimate_uncertainty_pct: b.uncertaintyPct, estimate_at: e.occurredAt, estimate_session_id: b.sessionId, estimate_event_id: e.eventId };
    }
    if (b.type === 'SocEstimateChecked') {
      if (!newer(e.occurredAt, e.eventId, s.last_estimate_checked_at as number | null, null)) return s;
      return { ...s, last_estimate_error_pct: b.errorPct, last_estimate_checked_at: e.occurredAt };
    }
    return row;
  },
};

/** soc_history: every SoC from telematics, from chargers, and estimates. */
export const socHistoryProjection: AppendProjection = {
  kind: 'append',
  table: socHistory,
  rows: (i) => {
    if (i.kind === 'reading') {
      const r = i.reading;
      return r.socPct === null ? [] : [{ at: r.readingAt, vehicle_id: r.vehicleId, session_id: null, charge_point_id: null, source: 'telematics', soc_pct: r.socPct, uncertainty_pct: null, event_id: r.readingId }];
    }
    if (i.kind !== 'event') return [];
    const e = i.event;
    const b = e.body;
    if (b.type === 'ChargerReportedSoc')
      return [{ at: e.occurredAt, vehicle_id: null, session_id: b.sessionId, charge_point_id: e.chargePointId, source: 'charger', soc_pct: b.socPct, uncertainty_pct: null, event_id: e.eventId }];
    if (b.type === 'SocEstimated')
      return [{ at: e.occurredAt, vehicle_id: b.vehicleId, session_id: b.sessionId, charge_point_id: e.chargePointId, source: 'estimate', soc_pct: b.socPct, uncertainty_pct: b.uncertaintyPct, event_id: e.eventId }];
    return [];
  },
};

export const socEstimateChecksProjection: AppendProjection = {
  kind: 'append',
  table: socEstimateChecks,
  rows: (i) => {
    if (i.kind !== 'event' || i.event.body.type !== 'SocEstimateChecked') return [];
    const b = i.event.body;
    return [{ at: i.event.occurredAt, vehicle_id: b.vehicleId, estimated_soc_pct: b.estimatedSocPct, reported_soc_pct: b.reportedSocPct, error_pct: b.errorPct, event_id: i.event.eventId }];
  },
};
