import { Row } from '../sink/table';
import { AppendProjection, DocumentProjection } from './projection';
import { commandOutcomes, meterValues, sessions, vehicleMatches } from './tables';

const sessionOf = (i: Parameters<DocumentProjection['keyOf']>[0]): string | undefined => {
  if (i.kind !== 'event') return undefined;
  const b = i.event.body;
  switch (b.type) {
    case 'SessionStarted':
    case 'SessionEnded':
    case 'VehicleMatched':
      return b.sessionId;
    case 'MeterSampled':
    case 'ChargerReportedSoc':
      return b.sessionId ?? undefined;
    default:
      return undefined;
  }
};

/** sessions: one row per session; energy from the register while active, final at SessionEnded. */
export const sessionsProjection: DocumentProjection = {
  kind: 'document',
  table: sessions,
  keyOf: (i) => {
    const s = sessionOf(i);
    return s === undefined ? undefined : [s];
  },
  evolve: (row, i) => {
    if (i.kind !== 'event') return row;
    const e = i.event;
    const b = e.body;
    if (b.type === 'SessionStarted') {
      return {
        session_id: b.sessionId,
        charge_point_id: e.chargePointId,
        connector_id: b.connectorId,
        transaction_id: b.transactionId,
        id_tag: b.idTag,
        started_at: e.occurredAt,
        ended_at: row?.ended_at ?? null,
        active: row ? row.active : true,
        meter_start_wh: b.meterStartWh,
        meter_stop_wh: row?.meter_stop_wh ?? null,
        energy_wh: row?.energy_wh ?? 0,
        stop_reason: row?.stop_reason ?? null,
        last_meter_at: row?.last_meter_at ?? null,
        charger_soc_pct: row?.charger_soc_pct ?? null,
        charger_soc_at: row?.charger_soc_at ?? null,
        vehicle_id: row?.vehicle_id ?? null,
        match_confidence: row?.match_confidence ?? null,
        match_method: row?.match_method ?? null,
        match_corrections: row?.match_corrections ?? 0,
      };
    }
    // Events of a session whose start was never seen (e.g. a log that begins mid-session) open a partial row.
    const base: Row = row ?? {
      session_id: sessionOf(i),
      charge_point_id: e.chargePointId,
      connector_id: 'connectorId' in b ? b.connectorId : 0,
      transaction_id: 'transactionId' in b ? b.transactionId : String(sessionOf(i)).split(':').pop(),
      id_tag: null,
      started_at: e.occurredAt,
      ended_at: null,
      active: true,
      meter_start_wh: 0,
      meter_stop_wh: null,
      energy_wh: 0,
      stop_reason: null,
      last_meter_at: null,
      charger_soc_pct: null,
      charger_soc_at: null,
      vehicle_id: null,
      match_confidence: null,
      match_method: null,
      match_corrections: 0,
    };
    switch (b.type) {
      case 'SessionEnded':
        return { ...base, ended_at: e.occurredAt, active: false, meter_stop_wh: b.meterStopWh, energy_wh: b.energyWh, stop_reason: b.reason };
      case 'MeterSampled': {
        const reg = b.samples.find((s) => s.measurand === 'Energy.Active.Import.Register' && s.phase === null && s.unit === 'Wh');
        const later = base.last_meter_at === null || e.occurredAt >= Number(base.last_meter_at);
        if (!later) return base;
        return { ...base, last_meter_at: e.occurredAt, energy_wh: reg && base.active ? Math.max(0, reg.value - Number(base.meter_start_wh)) : base.energy_wh };
      }
      case 'ChargerReportedSoc':
        return base.charger_soc_at !== null && e.occurredAt < Number(base.charger_soc_at) ? base : { ...base, charger_soc_pct: b.socPct, charger_soc_at: e.occurredAt };
      case 'VehicleMatched':
        return {
          ...base,
          vehicle_id: b.vehicleId,
          match_confidence: b.confidence,
          match_method: b.method,
          match_corrections: Number(base.match_corrections) + (b.replacesVehicleId !== null || (base.vehicle_id !== null && base.vehicle_id !== b.vehicleId) ? 1 : 0),
        };
      default:
        return row;
    }
  },
};

/** meter_values: one row per sampled value. */
export const meterValuesProjection: AppendProjection = {
  kind: 'append',
  table: meterValues,
  rows: (i) => {
    if (i.kind !== 'event' || i.event.body.type !== 'MeterSampled') return [];
    const e = i.event;
    const b = i.event.body;
    return b.samples.map(
      (s, idx): Row => ({
        at: e.occurredAt,
        charge_point_id: e.chargePointId,
        connector_id: b.connectorId,
        session_id: b.sessionId,
        measurand: s.measurand,
        phase: s.phase,
        location: s.location,
        context: s.context,
        unit: s.unit,
        value: s.value,
        event_id: e.eventId,
        idx,
      }),
    );
  },
};

export const vehicleMatchesProjection: AppendProjection = {
  kind: 'append',
  table: vehicleMatches,
  rows: (i) => {
    if (i.kind !== 'event' || i.event.body.type !== 'VehicleMatched') return [];
    const b = i.event.body;
    return [{ at: i.event.occurredAt, session_id: b.sessionId, charge_point_id: i.event.chargePointId, vehicle_id: b.vehicleId, confidence: b.confidence, method: b.method, replaces_vehicle_id: b.replacesVehicleId, event_id: i.event.eventId }];
  },
};

export const commandOutcomesProjection: AppendProjection = {
  kind: 'append',
  table: commandOutcomes,
  rows: (i) => {
    if (i.kind !== 'event' || i.event.body.type !== 'CommandCompleted') return [];
    const b = i.event.body;
    return [{ at: i.event.occurredAt, charge_point_id: i.event.chargePointId, command_id: b.commandId, action: b.action, outcome: b.outcome, detail: b.detail, event_id: i.event.eventId }];
  },
};
