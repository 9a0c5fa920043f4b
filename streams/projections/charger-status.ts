import { Row } from '../sink/table';
import { AppendProjection, DocumentProjection, ProjectionInput } from './projection';
import { chargerStatus, chargerStatusHistory, connectorStatus } from './tables';

/** charger_status: connection state per charger. Every event of a charger counts as a sign of life. */
export const chargerStatusProjection: DocumentProjection = {
  kind: 'document',
  table: chargerStatus,
  keyOf: (i) => (i.kind === 'event' && i.event.body.type !== 'CommandCompleted' && i.event.body.type !== 'VehicleMatched' && i.event.body.type !== 'SocEstimated' && i.event.body.type !== 'SocEstimateChecked' ? [i.event.chargePointId] : undefined),
  evolve: (row, i) => {
    if (i.kind !== 'event') return row;
    const e = i.event;
    const base: Row = row ?? {
      charge_point_id: e.chargePointId,
      online: false,
      protocol: null,
      gateway_id: null,
      vendor: null,
      model: null,
      serial_number: null,
      firmware_version: null,
      boot_accepted: null,
      heartbeat_interval_s: null,
      connected_at: null,
      disconnected_at: null,
      disconnect_reason: null,
      booted_at: null,
      last_heartbeat_at: null,
      last_seen_at: e.occurredAt,
    };
    const seen = Math.max(Number(base.last_seen_at), e.occurredAt);
    const b = e.body;
    switch (b.type) {
      case 'ChargerConnected':
        return { ...base, online: true, protocol: b.protocol, gateway_id: b.gatewayId, connected_at: e.occurredAt, last_seen_at: seen };
      case 'ChargerDisconnected':
        return { ...base, online: false, disconnected_at: e.occurredAt, disconnect_reason: b.reason, last_seen_at: seen };
      case 'ChargerBooted':
        return {
          ...base,
          online: true,
          protocol: b.protocol,
          vendor: b.vendor,
          model: b.model,
          serial_number: b.serialNumber,
          firmware_version: b.firmwareVersion,
          boot_accepted: b.accepted,
          heartbeat_interval_s: b.heartbeatIntervalS,
          booted_at: e.occurredAt,
          last_seen_at: seen,
        };
      case 'HeartbeatReceived':
        return { ...base, online: true, last_heartbeat_at: e.occurredAt, last_seen_at: seen };
      default:
        return seen === base.last_seen_at && row ? row : { ...base, last_seen_at: seen };
    }
  },
};

/** connector_status: current status per connector, and the session running on it. */
export const connectorStatusProjection: DocumentProjection = {
  kind: 'document',
  table: connectorStatus,
  keyOf: (i: ProjectionInput) => {
    if (i.kind !== 'event') return undefined;
    const b = i.event.body;
    if (b.type === 'ConnectorStatusChanged' || b.type === 'SessionStarted' || b.type === 'SessionEnded') return [i.event.chargePointId, b.connectorId];
    return undefined;
  },
  evolve: (row, i) => {
    if (i.kind !== 'event') return row;
    const e = i.event;
    const b = e.body;
    const base: Row = row ?? { charge_point_id: e.chargePointId, connector_id: 'connectorId' in b ? b.connectorId : 0, status: 'Unknown', error_code: null, info: null, since: e.occurredAt, session_id: null };
    switch (b.type) {
      case 'ConnectorStatusChanged':
        return { ...base, status: b.status, error_code: b.errorCode, info: b.info, since: base.status === b.status && row ? base.since : e.occurredAt };
      case 'SessionStarted':
        return { ...base, session_id: b.sessionId };
      case 'SessionEnded':
        return base.session_id === b.sessionId ? { ...base, session_id: null } : base;
      default:
        return row;
    }
  },
};

/** charger_status_history: connector status changes, and charger Online / Offline / Booted as connector 0. */
export const chargerStatusHistoryProjection: AppendProjection = {
  kind: 'append',
  table: chargerStatusHistory,
  rows: (i) => {
    if (i.kind !== 'event') return [];
    const e = i.event;
    const row = (connector_id: number, status: string, error_code: string | null, info: string | null): Row[] => [
      { at: e.occurredAt, charge_point_id: e.chargePointId, connector_id, status, error_code, info, event_id: e.eventId },
    ];
    const b = e.body;
    switch (b.type) {
      case 'ConnectorStatusChanged':
        return row(b.connectorId, b.status, b.errorCode, b.info);
      case 'ChargerConnected':
        return row(0, 'Online', null, b.protocol);
      case 'ChargerDisconnected':
        return row(0, 'Offline', null, b.reason);
      case 'ChargerBooted':
        return row(0, 'Booted', null, b.accepted ? 'Accepted' : 'Rejected');
      default:
        return [];
    }
  },
};
