import * as t from 'io-ts';
import { ChargerState, initialCharger } from './decide';

/** The normalizer's keyed store: one ChargerState per chargePointId, co-partitioned with ocpp.frames (its key). The
 *  codec reads the state back from the changelog; `shape` must change with it. */
const PendingCallCodec = t.type({ action: t.string, payload: t.unknown, at: t.number });
const OpenSessionCodec = t.type({ sessionId: t.string, transactionId: t.string, connectorId: t.number, meterStartWh: t.number, lastRegisterWh: t.union([t.number, t.null]) });

export const ChargerStateCodec: t.Type<ChargerState, unknown, unknown> = t.type({
  pending: t.record(t.string, PendingCallCodec),
  sessions: t.record(t.string, OpenSessionCodec),
  status: t.record(t.string, t.string),
  onConnector: t.record(t.string, t.string),
});

export const chargerStore = { name: 'chargers', shape: 1, codec: ChargerStateCodec, initial: initialCharger } as const;
