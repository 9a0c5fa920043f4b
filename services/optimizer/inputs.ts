/** Kafka records → the optimizer's inputs, decoded with io-ts at the boundary. Pure.
 *  fleet.config, charging.events and telematics.readings become fold inputs; ocpp.command-results are matched to the
 *  optimizer's read-backs; ocpp.commands is read back only to restore what the optimizer itself commanded. */
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { catalog } from '../../schemas/catalog';
import { decodeOcppCommand, OcppCommandRecord } from '../../schemas/command-record';
import { CommandResult } from '../../schemas/records';
import { Topics } from '../../schemas/topics';
import { fromLimit } from './profiles';
import { ampsToKw, ChargerSnapshot } from './snapshot';
import { Input } from './state';

export const inputTopics = [Topics.fleetConfig, Topics.chargingEvents, Topics.telematicsReadings, Topics.ocppCommandResults, Topics.ocppCommands, Topics.siteMeterReadings] as const;
export type InputTopic = (typeof inputTopics)[number];

export type CommandRecord = OcppCommandRecord;

export type Decoded =
  | { readonly kind: 'input'; readonly input: Input }
  | { readonly kind: 'result'; readonly result: CommandResult }
  | { readonly kind: 'command'; readonly command: CommandRecord };

/** One record's Avro-decoded value → what it is to the optimizer, or why it is not. */
export const decodeInput = (topic: InputTopic, value: unknown): E.Either<string, Decoded> => {
  switch (topic) {
    case Topics.fleetConfig:
      return pipe(catalog.fleetConfig.decode(value), E.map((event) => ({ kind: 'input', input: { kind: 'config', event } })));
    case Topics.chargingEvents:
      return pipe(catalog.chargingEvents.decode(value), E.map((event) => ({ kind: 'input', input: { kind: 'event', event } })));
    case Topics.telematicsReadings:
      return pipe(
        catalog.telematicsReadings.decode(value),
        E.map((r) => ({
          kind: 'input',
          input: { kind: 'reading', reading: { readingId: r.readingId, vehicleId: r.vehicleId, readingAt: r.readingAt, socPct: r.socPct, pluggedIn: r.pluggedIn, etaAt: r.etaAt, batteryCapacityKwh: r.batteryCapacityKwh } },
        })),
      );
    case Topics.ocppCommandResults:
      return pipe(catalog.ocppCommandResults.decode(value), E.map((result) => ({ kind: 'result', result })));
    case Topics.ocppCommands:
      return pipe(decodeOcppCommand(value), E.map((command) => ({ kind: 'command', command })));
    case Topics.siteMeterReadings:
      return pipe(catalog.siteMeterReadings.decode(value), E.map((reading) => ({ kind: 'input', input: { kind: 'meter', reading } })));
  }
};

const Period = t.type({ limit: t.number });
const Schedule = t.type({ chargingRateUnit: t.string, chargingSchedulePeriod: t.array(t.intersection([Period, t.partial({ numberPhases: t.number })])) });
const TxProfile16 = t.type({ connectorId: t.number, csChargingProfiles: t.type({ chargingProfilePurpose: t.literal('TxProfile'), chargingSchedule: Schedule }) });
const TxProfile201 = t.type({ evseId: t.number, chargingProfile: t.type({ chargingProfilePurpose: t.literal('TxProfile'), chargingSchedule: t.array(Schedule) }) });

/** A TxProfile the optimizer sent, as the fold's `commanded` input (its slot-0 limit in kW), or null for anything else
 *  on ocpp.commands (other issuers, caps, read-backs). */
export const commandedOf = (c: CommandRecord): Input | null => {
  if (c.issuedBy !== 'optimizer' || c.action !== 'SetChargingProfile') return null;
  const payload = E.tryCatch(() => JSON.parse(c.payloadJson) as unknown, () => null);
  if (E.isLeft(payload)) return null;
  const v16 = TxProfile16.decode(payload.right);
  const v201 = TxProfile201.decode(payload.right);
  const found = E.isRight(v16)
    ? { connectorId: v16.right.connectorId, schedule: v16.right.csChargingProfiles.chargingSchedule }
    : E.isRight(v201) && v201.right.chargingProfile.chargingSchedule[0]
      ? { connectorId: v201.right.evseId, schedule: v201.right.chargingProfile.chargingSchedule[0] }
      : null;
  const first = found?.schedule.chargingSchedulePeriod[0];
  if (!found || !first) return null;
  const limitKw = found.schedule.chargingRateUnit === 'W' ? first.limit / 1000 : ampsToKw(first.limit, first.numberPhases ?? 3);
  return { kind: 'commanded', chargePointId: c.chargePointId, connectorId: found.connectorId, commandId: c.commandId, limitKw, at: c.issuedAt };
};

/** GetCompositeSchedule.conf (1.6 or 2.0.1) → the limit in force at its start, in kW. */
export const compositeLimitKw = (c: ChargerSnapshot, responseJson: string | null): number | null =>
  pipe(
    E.tryCatch(() => JSON.parse(responseJson ?? 'null') as Record<string, unknown> | null, () => null),
    E.map((r) => {
      if (!r || r.status !== 'Accepted') return null;
      const schedule = (r.chargingSchedule ?? r.schedule) as { chargingRateUnit?: string; chargingSchedulePeriod?: { limit: number; numberPhases?: number }[] } | undefined;
      const first = schedule?.chargingSchedulePeriod?.[0];
      if (!schedule || !first) return null;
      if (schedule.chargingRateUnit === 'W') return first.limit / 1000;
      return fromLimit({ ...c, rateUnit: 'A', currentType: 'AC', phases: first.numberPhases ?? c.phases }, first.limit);
    }),
    E.getOrElseW(() => null),
  );

/** When an input happened, by its own clock. */
export const inputTime = (i: Input): number =>
  i.kind === 'config' ? i.event.at : i.kind === 'event' ? i.event.occurredAt : i.kind === 'reading' ? i.reading.readingAt : i.kind === 'meter' ? i.reading.measuredAt : i.at;
