import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { decodeWith } from '../../common/decode';
import { ChargingState, emptyValues, ProviderReading } from '../reading';
import { Adapter, AdapterItem, FiniteNumber, Instant, isRecord, NonEmptyString } from './codecs';

/** Fleet telematics in the style of diagnostic feeds: flat records, one value each, keyed by a diagnostic id, odometer
 *  and range in metres, capacity in Wh, times with a UTC offset. `{ "records": [...] }` (extra fields such as a feed's
 *  `toVersion` are ignored).
 *  ```json
 *  { "records": [
 *    { "id": "b1", "device": { "id": "G9-4711" }, "diagnostic": { "id": "DiagnosticStateOfChargeId" }, "dateTime": "2026-11-25T14:59:00+01:00", "data": 81.5 },
 *    { "id": "b2", "device": { "id": "G9-4711" }, "diagnostic": { "id": "DiagnosticOdometerId" },      "dateTime": "2026-11-25T14:59:00+01:00", "data": 12345600 } ] }
 *  ```
 *  The records of one device at one instant make one reading; its provider reading id is `<device>@<UTC instant>`, so
 *  the same instant delivered twice (in any offset) is the same reading. Diagnostics not in `diagnostics` below are
 *  ignored (real feeds carry hundreds); a group with none we know is acknowledged as ignored. */
export const diagnostics = {
  DiagnosticStateOfChargeId: { field: 'socPct', convert: (v: number) => v },
  DiagnosticOdometerId: { field: 'odometerKm', convert: (metres: number) => metres / 1000 },
  DiagnosticElectricVehicleRangeId: { field: 'rangeKm', convert: (metres: number) => metres / 1000 },
  DiagnosticLatitudeId: { field: 'latitude', convert: (v: number) => v },
  DiagnosticLongitudeId: { field: 'longitude', convert: (v: number) => v },
  DiagnosticBatteryUsableCapacityId: { field: 'batteryCapacityKwh', convert: (wh: number) => wh / 1000 },
  DiagnosticChargingStateId: { field: 'chargingState', convert: (code: number) => chargingStateCodes[code] ?? 'UNKNOWN' },
  DiagnosticChargeCableConnectedId: { field: 'pluggedIn', convert: (v: number) => v !== 0 },
} as const;

/** DiagnosticChargingStateId values: 0 idle, 1 AC charging, 2 DC charging, 3 charge complete, 4 charging fault. */
export const chargingStateCodes: Readonly<Record<number, ChargingState>> = { 0: 'NOT_CHARGING', 1: 'CHARGING', 2: 'CHARGING', 3: 'COMPLETE', 4: 'FAULT' };

const DiagnosticRecord = t.type({
  device: t.type({ id: NonEmptyString }),
  diagnostic: t.type({ id: NonEmptyString }),
  dateTime: Instant,
  data: FiniteNumber,
});
type DiagnosticRecord = t.TypeOf<typeof DiagnosticRecord>;

const isKnown = (id: string): id is keyof typeof diagnostics => Object.prototype.hasOwnProperty.call(diagnostics, id);

const assemble = (deviceId: string, at: number, records: readonly DiagnosticRecord[]): E.Either<string[], ProviderReading | null> => {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const r of records) {
    const id = r.diagnostic.id;
    if (!isKnown(id)) continue;
    const { field, convert } = diagnostics[id];
    const v = convert(r.data);
    if (field in values && values[field] !== v) problems.push(`${id}: conflicting values ${JSON.stringify(values[field])} and ${JSON.stringify(v)} at the same instant`);
    values[field] = v;
  }
  if (problems.length) return E.left(problems);
  if (Object.keys(values).length === 0) return E.right(null);
  return E.right({
    ...emptyValues,
    ...(values as Partial<ProviderReading>),
    providerVehicleId: deviceId,
    providerReadingId: `${deviceId}@${new Date(at).toISOString()}`,
    readingAt: at,
  });
};

export const fleetDiagnosticsAdapter: Adapter = {
  shape: 'fleet-diagnostics',
  parse: (body) => {
    if (!isRecord(body) || !Array.isArray(body.records)) return E.left(['expected { "records": [...] }']);
    const records: unknown[] = body.records;
    if (records.length > 10_000) return E.left([`records: at most 10000 records per request, got ${records.length}`]);
    const items: AdapterItem[] = [];
    const groups = new Map<string, { deviceId: string; at: number; indexes: number[]; records: DiagnosticRecord[] }>();
    records.forEach((raw, i) => {
      const decoded = decodeWith(DiagnosticRecord)(raw);
      if (E.isLeft(decoded)) {
        items.push({ label: `records[${i}]`, raw, reading: E.left(decoded.left) });
        return;
      }
      const r = decoded.right;
      const key = `${r.device.id}\0${r.dateTime}`;
      const g = groups.get(key) ?? { deviceId: r.device.id, at: r.dateTime, indexes: [], records: [] };
      g.indexes.push(i);
      g.records.push(r);
      groups.set(key, g);
    });
    for (const g of groups.values()) {
      items.push({
        label: `records[${g.indexes.join(',')}] (${g.deviceId} at ${new Date(g.at).toISOString()})`,
        raw: g.indexes.map((i) => records[i]),
        reading: assemble(g.deviceId, g.at, g.records),
      });
    }
    return E.right(items);
  },
};
