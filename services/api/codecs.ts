import * as t from 'io-ts';
import { described } from './json-schema';
import { partnerIdPattern } from '../../schemas/topics';
import { reservedPrincipalProblem } from '../common/kafka-principals';

/** io-ts codecs of every HTTP body the API accepts. Each failure carries a message a person can act on;
 *  services/common/decode.ts turns them into `path: message` lines for the problem+json body. */

const numberWhere = (name: string, check: (n: number) => boolean, expectation: string, schema: Record<string, unknown>) =>
  described(
    new t.Type<number, number, unknown>(
      name,
      (u): u is number => typeof u === 'number' && Number.isFinite(u) && check(u),
      (u, c) => (typeof u === 'number' && Number.isFinite(u) && check(u) ? t.success(u) : t.failure(u, c, `expected ${expectation}, got ${JSON.stringify(u) ?? 'nothing'}`)),
      t.identity,
    ),
    { type: name.startsWith('Int') ? 'integer' : 'number', ...schema },
  );

const stringWhere = (name: string, check: (s: string) => boolean, expectation: string, schema: Record<string, unknown>) =>
  described(
    new t.Type<string, string, unknown>(
      name,
      (u): u is string => typeof u === 'string' && check(u),
      (u, c) => (typeof u === 'string' && check(u) ? t.success(u) : t.failure(u, c, `expected ${expectation}, got ${JSON.stringify(u) ?? 'nothing'}`)),
      t.identity,
    ),
    { type: 'string', ...schema },
  );

export const PositiveNumber = numberWhere('PositiveNumber', (n) => n > 0, 'a number > 0', { exclusiveMinimum: 0 });
export const NonNegativeNumber = numberWhere('NonNegativeNumber', (n) => n >= 0, 'a number >= 0', { minimum: 0 });
export const Percent = numberWhere('Percent', (n) => n >= 0 && n <= 100, 'a percentage between 0 and 100', { minimum: 0, maximum: 100 });
export const Latitude = numberWhere('Latitude', (n) => n >= -90 && n <= 90, 'a latitude between -90 and 90', { minimum: -90, maximum: 90 });
export const Longitude = numberWhere('Longitude', (n) => n >= -180 && n <= 180, 'a longitude between -180 and 180', { minimum: -180, maximum: 180 });
/** OCPP security profiles: 1 Basic auth, 2 TLS + Basic auth, 3 mutual TLS (contract: 1 unless configured). */
export const SecurityProfile = numberWhere('IntSecurityProfile', (n) => n === 1 || n === 2 || n === 3, 'an OCPP security profile 1, 2 or 3', { enum: [1, 2, 3], default: 1 });
const Phases = numberWhere('IntPhases', (n) => n === 1 || n === 3, 'phases 1 or 3', { enum: [1, 3] });
const PositiveInt = numberWhere('IntPositive', (n) => Number.isInteger(n) && n >= 1, 'a whole number >= 1', { minimum: 1 });

export const NonEmptyString = stringWhere('NonEmptyString', (s) => s.trim().length > 0 && s.length <= 200, 'a non-empty string of at most 200 characters', { minLength: 1, maxLength: 200 });

const isTimeZone = (s: string): boolean => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: s });
    return s.length > 0;
  } catch {
    return false;
  }
};
export const TimeZone = stringWhere('TimeZone', isTimeZone, 'an IANA time zone such as Europe/Berlin', { examples: ['Europe/Berlin'] });

const isoInstant = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
export const isIsoInstant = (s: string): boolean => isoInstant.test(s) && !Number.isNaN(Date.parse(s));
export const IsoInstant = stringWhere('IsoInstant', isIsoInstant, 'an ISO 8601 instant with offset, e.g. 2026-01-31T06:00:00Z', { format: 'date-time' });
const isLocalTime = (s: string) => /^([01]\d|2[0-3]):[0-5]\d$/.test(s) || s === '24:00';
export const TariffBoundary = stringWhere('TariffBoundary', (s) => isIsoInstant(s) || isLocalTime(s), 'an ISO 8601 instant or a local time HH:MM', {
  description: 'ISO 8601 instant, or HH:MM local time (site time zone) for a daily pattern',
});
export const CurrencyCode = stringWhere('CurrencyCode', (s) => /^[A-Z]{3}$/.test(s), 'an ISO 4217 currency code such as EUR', { pattern: '^[A-Z]{3}$' });
/** A partner id is also the partner's Kafka user name: platform names (ANONYMOUS in any case, voltstream*, ...) are refused. */
export const partnerIdProblem = (s: string): string | undefined =>
  partnerIdPattern.test(s) ? reservedPrincipalProblem(s) : `expected a partner id of 1-64 letters, digits, _ or -, got ${JSON.stringify(s)}`;
export const PartnerId = described(
  new t.Type<string, string, unknown>(
    'PartnerId',
    (u): u is string => typeof u === 'string' && partnerIdProblem(u) === undefined,
    (u, c) => {
      const problem = typeof u === 'string' ? partnerIdProblem(u) : `expected a partner id of 1-64 letters, digits, _ or -, got ${JSON.stringify(u) ?? 'nothing'}`;
      return problem === undefined ? t.success(u as string) : t.failure(u, c, problem);
    },
    t.identity,
  ),
  { type: 'string', pattern: partnerIdPattern.source, description: 'also the Kafka user name: ANONYMOUS (any case) and names starting with voltstream, kafka, admin, broker, controller or User: are reserved' },
);
export const Secret = stringWhere('Secret', (s) => s.length >= 8 && s.length <= 128, 'a secret of 8 to 128 characters', { minLength: 8, maxLength: 128, writeOnly: true });
export const IdTag = stringWhere('IdTag', (s) => s.length >= 1 && s.length <= 36, 'an idTag of 1 to 36 characters', { minLength: 1, maxLength: 36 });

/** Ids in paths: a charge point id, vehicle id, site id. No slashes, spaces or control characters. */
export const isSafeId = (s: string): boolean => /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/.test(s);

const LocalTime = stringWhere('LocalTime', isLocalTime, 'a local time HH:MM', { pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$' });
const PhaseRotation = stringWhere('PhaseRotation', (s) => /^(RST|RTS|SRT|STR|TRS|TSR)$/.test(s), "the grid phases of the charger's L1, L2, L3: RST, RTS, SRT, STR, TRS or TSR", {
  enum: ['RST', 'RTS', 'SRT', 'STR', 'TRS', 'TSR'],
  default: 'RST',
});
const AcPhases = numberWhere('IntAcPhases', (n) => n === 1 || n === 2 || n === 3, 'phases 1, 2 or 3', { enum: [1, 2, 3], default: 3 });

export const SiteBody = t.intersection([
  t.type({
    name: NonEmptyString,
    gridLimitKw: PositiveNumber,
    location: t.type({ lat: Latitude, lon: Longitude }),
    timezone: TimeZone,
  }),
  t.partial({
    /** Per-phase current limit of the connection (A). */
    maxCurrentA: t.union([PositiveNumber, t.null]),
    /** The building's daily load pattern (local time), where no connection meter forecasts it. */
    baseLoadProfile: t.array(t.type({ from: LocalTime, to: LocalTime, kw: NonNegativeNumber, upperKw: NonNegativeNumber })),
  }),
]);
export type SiteBody = t.TypeOf<typeof SiteBody>;

export const TariffBody = t.type({
  currency: CurrencyCode,
  periods: t.array(t.type({ from: TariffBoundary, to: TariffBoundary, pricePerKwh: NonNegativeNumber })),
  demandChargePerKwMonth: NonNegativeNumber,
});
export type TariffBody = t.TypeOf<typeof TariffBody>;

/** Without it, a write cannot lower a charger's security profile (fleet.ts securityProfileAfter keeps the higher one). */
const SecurityProfileDowngrade = described(t.boolean, {
  type: 'boolean',
  default: false,
  description: "true: this write may lower the charger's security profile (e.g. 3 to 2 or 1); recorded on fleet.config with the API key that made it. Without it a lower securityProfile is not applied and the charger must keep connecting with its current profile.",
});

export const ChargerBody = t.intersection([
  t.type({ siteId: NonEmptyString, maxPowerKw: PositiveNumber }),
  t.partial({
    securityProfile: SecurityProfile,
    securityProfileDowngrade: SecurityProfileDowngrade,
    password: t.union([Secret, t.null]),
    ownerPartnerId: t.union([PartnerId, t.null]),
    phases: Phases,
    currentType: t.keyof({ AC: null, DC: null }),
    rateUnit: t.keyof({ A: null, W: null }),
    maxSchedulePeriods: PositiveInt,
    panelId: t.union([NonEmptyString, t.null]),
    maxCurrentA: t.union([PositiveNumber, t.null]),
    phaseRotation: PhaseRotation,
    phaseSwitching: t.boolean,
  }),
]);
export type ChargerBody = t.TypeOf<typeof ChargerBody>;

export const VehicleBody = t.intersection([
  t.type({
    batteryCapacityKwh: PositiveNumber,
    maxAcPowerKw: NonNegativeNumber,
    maxDcPowerKw: NonNegativeNumber,
    consumptionKwhPerKm: PositiveNumber,
    idTags: t.array(IdTag),
  }),
  t.partial({
    telematics: t.union([t.type({ provider: NonEmptyString, providerVehicleId: NonEmptyString }), t.null]),
    siteId: t.union([NonEmptyString, t.null]),
    acPhases: AcPhases,
  }),
]);
export type VehicleBody = t.TypeOf<typeof VehicleBody>;

/** A panel (feeder, board, transformer) of a site. */
export const PanelBody = t.intersection([
  t.type({ limitKw: PositiveNumber }),
  t.partial({ name: t.string, parentPanelId: t.union([NonEmptyString, t.null]), maxCurrentA: t.union([PositiveNumber, t.null]) }),
]);
export type PanelBody = t.TypeOf<typeof PanelBody>;

/** A time-bounded reduction of the connection limit (demand response). */
export const LimitEventBody = t.intersection([
  t.type({ start: IsoInstant, end: IsoInstant, limitKw: NonNegativeNumber }),
  t.partial({ source: NonEmptyString, reference: NonEmptyString }),
]);
export type LimitEventBody = t.TypeOf<typeof LimitEventBody>;

/** Exactly one of requiredSocPct, requiredEnergyKwh, routeKm: checked after decoding the shape (problems listed together). */
export const DepartureBody = t.intersection([
  t.type({ departAt: IsoInstant }),
  t.partial({ requiredSocPct: Percent, requiredEnergyKwh: PositiveNumber, routeKm: PositiveNumber, priority: PositiveInt }),
]);
export type DepartureBody = t.TypeOf<typeof DepartureBody>;

export const departureTargetProblems = (b: Record<string, unknown>): string[] => {
  const given = ['requiredSocPct', 'requiredEnergyKwh', 'routeKm'].filter((k) => b[k] !== undefined && b[k] !== null);
  if (given.length === 1) return [];
  if (given.length === 0) return ['exactly one of requiredSocPct, requiredEnergyKwh, routeKm is required, none given'];
  return [`exactly one of requiredSocPct, requiredEnergyKwh, routeKm is allowed, got ${given.join(', ')}`];
};

export const scopePattern = /^(history:read|config:write|commands:write|admin|partner:[A-Za-z0-9_-]{1,64})$/;
export const Scope = stringWhere('Scope', (s) => scopePattern.test(s), 'a scope: history:read, config:write, commands:write, admin or partner:<partnerId>', { pattern: scopePattern.source });
export const ApiKeyBody = t.intersection([t.type({ scopes: t.array(Scope) }), t.partial({ label: NonEmptyString })]);
export type ApiKeyBody = t.TypeOf<typeof ApiKeyBody>;

const PartnerSecret = stringWhere('PartnerSecret', (s) => s.length >= 8 && s.length <= 128 && ![...s].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f), 'a password of 8 to 128 characters without control characters', {
  minLength: 8,
  maxLength: 128,
  writeOnly: true,
});
export const PartnerBody = t.intersection([t.type({ password: PartnerSecret }), t.partial({ name: NonEmptyString })]);
export type PartnerBody = t.TypeOf<typeof PartnerBody>;

/** What every command request may add: a delivery deadline, and a key that makes retries of the request safe. */
export const IdempotencyKey = stringWhere('IdempotencyKey', (s) => s.length >= 1 && s.length <= 255, 'a key of 1 to 255 characters', { minLength: 1, maxLength: 255 });
export const CommandOptions = t.partial({ expiresAt: IsoInstant, idempotencyKey: IdempotencyKey });
export type CommandOptions = t.TypeOf<typeof CommandOptions>;

/** An OCPP payload: a JSON object, checked against the official schema of the charger's version after decoding. */
export const OcppPayload = described(t.record(t.string, t.unknown), { type: 'object', description: "request payload of the action, valid against the official OCPP JSON schema of the charger's version" });
export const CommandBody = t.intersection([t.type({ action: stringWhere('OcppAction', (s) => /^[A-Za-z0-9]{1,64}$/.test(s), 'an OCPP action name such as Reset', { pattern: '^[A-Za-z0-9]{1,64}$' }), payload: OcppPayload }), CommandOptions]);
export type CommandBody = t.TypeOf<typeof CommandBody>;
