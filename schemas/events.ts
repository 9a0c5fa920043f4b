import { unwrapUnion, wrapUnion } from './union';

/** charging.events: the one vocabulary of domain events for OCPP 1.6J and 2.0.1 (schemas/avro/charging.events.avsc).
 *  Timestamps are epoch milliseconds; energies Wh unless the name says kWh. */
export type EventBody =
  | { type: 'ChargerConnected'; protocol: string; gatewayId: string }
  | { type: 'ChargerDisconnected'; gatewayId: string; reason: string | null }
  | { type: 'ChargerBooted'; protocol: string; vendor: string; model: string; serialNumber: string | null; firmwareVersion: string | null; accepted: boolean; heartbeatIntervalS: number }
  | { type: 'HeartbeatReceived' }
  | { type: 'ConnectorStatusChanged'; connectorId: number; status: string; errorCode: string | null; info: string | null }
  | { type: 'SessionStarted'; sessionId: string; transactionId: string; connectorId: number; idTag: string | null; meterStartWh: number }
  | { type: 'SessionEnded'; sessionId: string; transactionId: string; connectorId: number; meterStopWh: number; energyWh: number; reason: string | null }
  | { type: 'MeterSampled'; sessionId: string | null; connectorId: number; samples: MeterSample[] }
  | { type: 'ChargerReportedSoc'; sessionId: string | null; connectorId: number; socPct: number }
  | { type: 'EvChargingNeedsReported'; connectorId: number; energyAmountWh: number | null; departureTime: number | null; evMaxPowerW: number | null }
  | { type: 'VehicleMatched'; sessionId: string; vehicleId: string; confidence: number; method: string; replacesVehicleId: string | null }
  | { type: 'SocEstimated'; vehicleId: string; sessionId: string | null; socPct: number; uncertaintyPct: number; baseSocPct: number; baseAt: number; deliveredWhSinceBase: number }
  | { type: 'SocEstimateChecked'; vehicleId: string; estimatedSocPct: number; reportedSocPct: number; errorPct: number }
  | { type: 'CommandCompleted'; commandId: string; action: string; outcome: string; detail: string | null }
  | { type: 'TokenAuthorized'; idTag: string; status: string; action: string; connectorId: number | null }
  | { type: 'DeviceModelReported'; protocol: string; source: string; requestId: number | null; entries: DeviceVariable[] }
  | { type: 'ExternalLimitReported'; evseId: number; source: string; isGridCritical: boolean | null; schedules: LimitSchedule[] }
  | { type: 'ExternalLimitCleared'; evseId: number; source: string };

/** One configuration key (1.6) or component variable (2.0.1) as the charger reported it. */
export interface DeviceVariable {
  component: string | null;
  variable: string;
  value: string | null;
  readonly: boolean | null;
}

/** A charging schedule someone else set (OCPP 2.0.1 ChargingScheduleType, reduced to what limits power). */
export interface LimitSchedule {
  startAt: number | null;
  durationS: number | null;
  unit: string;
  periods: { startS: number; limit: number; numberPhases: number | null }[];
}

export interface MeterSample {
  measurand: string;
  phase: string | null;
  location: string | null;
  context: string | null;
  unit: string;
  value: number;
}

export interface SourceRef {
  topic: string;
  partition: number;
  offset: number;
}

export interface ChargingEvent<B extends EventBody = EventBody> {
  eventId: string;
  chargePointId: string;
  occurredAt: number;
  source: SourceRef | null;
  body: B;
}

export type EventType = EventBody['type'];
export type BodyOf<T extends EventType> = Extract<EventBody, { type: T }>;

const ns = 'io.voltstream.events';

/** Domain event → the Avro record of charging.events (ready for TopicSerde.encode). */
export const toAvro = (e: ChargingEvent): Record<string, unknown> => ({ ...e, body: wrapUnion(ns, e.body) });

/** Decoded Avro record of charging.events → domain event. */
export const fromAvro = (r: Record<string, unknown>): ChargingEvent => ({
  eventId: r.eventId as string,
  chargePointId: r.chargePointId as string,
  occurredAt: Number(r.occurredAt),
  source: (r.source as SourceRef | null) ?? null,
  body: unwrapUnion<EventBody>(ns, r.body),
});

export const isType =
  <T extends EventType>(type: T) =>
  (e: ChargingEvent): e is ChargingEvent<BodyOf<T>> =>
    e.body.type === type;
