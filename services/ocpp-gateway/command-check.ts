/** Checks a command against the spec and the charger's configured limits before it is sent. Pure. */
import * as E from 'fp-ts/Either';
import { ChargerConfig } from './fleet';
import { Protocol } from './protocol';
import { knownAction, validatePayload } from './schemas';

interface Period {
  startPeriod?: unknown;
}
interface Schedule {
  startSchedule?: unknown;
  chargingRateUnit?: unknown;
  chargingSchedulePeriod?: Period[];
}
interface Profile {
  chargingProfileKind?: unknown;
  recurrencyKind?: unknown;
  chargingSchedule?: Schedule | Schedule[];
}

/** Units the charger supports: ChargerConfigured.rateUnit, one unit or a comma-separated list ("A", "W", "A,W"). */
const supportedUnits = (c: ChargerConfig): string[] =>
  c.rateUnit
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);

const checkSchedule = (kind: unknown, s: Schedule, c: ChargerConfig, where: string): string[] => {
  const problems: string[] = [];
  if (kind === 'Absolute' && s.startSchedule === undefined) problems.push(`${where}: an Absolute profile needs startSchedule`);
  if (kind === 'Recurring' && s.startSchedule === undefined) problems.push(`${where}: a Recurring profile needs startSchedule`);
  const periods = s.chargingSchedulePeriod ?? [];
  if (periods.length > c.maxSchedulePeriods) problems.push(`${where}: ${periods.length} periods, the charger takes at most ${c.maxSchedulePeriods} (ChargingScheduleMaxPeriods)`);
  const units = supportedUnits(c);
  if (typeof s.chargingRateUnit === 'string' && !units.includes(s.chargingRateUnit))
    problems.push(`${where}: rate unit ${s.chargingRateUnit} is not supported by the charger (${units.join(', ') || 'none configured'})`);
  const starts = periods.map((p) => Number(p.startPeriod));
  if (starts.length > 0 && starts[0] !== 0) problems.push(`${where}: the first period must start at 0`);
  for (let i = 1; i < starts.length; i++) if (!(starts[i]! > starts[i - 1]!)) problems.push(`${where}: startPeriod must increase (period ${i})`);
  return problems;
};

const checkProfile = (p: Profile, c: ChargerConfig, where: string): string[] => {
  const problems: string[] = [];
  if (p.chargingProfileKind === 'Recurring' && p.recurrencyKind === undefined) problems.push(`${where}: a Recurring profile needs recurrencyKind`);
  const schedules = Array.isArray(p.chargingSchedule) ? p.chargingSchedule : p.chargingSchedule ? [p.chargingSchedule] : [];
  schedules.forEach((s, i) => problems.push(...checkSchedule(p.chargingProfileKind, s, c, Array.isArray(p.chargingSchedule) ? `${where}.chargingSchedule[${i}]` : `${where}.chargingSchedule`)));
  return problems;
};

/** Left: every problem found, as one readable reason (the INVALID outcome's detail). */
export const checkCommand = (protocol: Protocol, action: string, payload: unknown, charger: ChargerConfig): E.Either<string, void> => {
  if (!knownAction(protocol, action)) return E.left(`${action} is not an ${protocol} action`);
  const schema = validatePayload(protocol, action, 'req', payload);
  if (E.isLeft(schema)) return E.left(`schema: ${schema.left.reason}`);
  const problems: string[] = [];
  const body = payload as Record<string, unknown>;
  if (action === 'SetChargingProfile') {
    if (protocol === 'ocpp1.6') problems.push(...checkProfile(body.csChargingProfiles as Profile, charger, 'csChargingProfiles'));
    else problems.push(...checkProfile(body.chargingProfile as Profile, charger, 'chargingProfile'));
  }
  if (action === 'GetCompositeSchedule' && typeof body.chargingRateUnit === 'string' && !supportedUnits(charger).includes(body.chargingRateUnit))
    problems.push(`chargingRateUnit ${body.chargingRateUnit} is not supported by the charger`);
  return problems.length ? E.left(problems.join('; ')) : E.right(undefined);
};
