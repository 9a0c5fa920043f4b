import { randomUUID } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { RouteParams, sendJson, sendProblem } from '../../common/http';
import { hashChargerSecret } from '../../common/password';
import { ConfigBody } from '../../../schemas/fleet-config';
import { ApiRoute, principalOf, readJsonBody } from '../server';
import { Appended, ConfigLog } from '../config-log';
import { ChargerBody, DepartureBody, departureTargetProblems, isSafeId, SiteBody, TariffBody, VehicleBody } from '../codecs';

/** Fleet configuration: every write is an event on fleet.config (configuration replays with everything else).
 *  Scope config:write. The answer carries the event id and its place in the log. */

const idProblems = (params: RouteParams, names: readonly string[]): string[] =>
  names.filter((n) => !isSafeId(params[n] ?? '')).map((n) => `${n}: expected 1-128 letters, digits or . _ : @ -, got ${JSON.stringify(params[n])}`);

export const configRoute = <A, O>(spec: {
  method: 'PUT' | 'POST';
  path: string;
  summary: string;
  description: string;
  codec: t.Type<A, O, unknown>;
  ids: readonly string[];
  okStatus?: number;
  extraProblems?: (body: A) => string[];
  toEvent: (body: A, params: RouteParams) => Promise<ConfigBody> | ConfigBody;
  present: (body: ConfigBody, appended: Appended) => unknown;
  log: ConfigLog;
}): ApiRoute => ({
  method: spec.method,
  path: spec.path,
  scope: 'config:write',
  summary: spec.summary,
  description: spec.description,
  tag: 'configuration',
  requestBody: spec.codec,
  okStatus: spec.okStatus ?? 200,
  handle: async (req: IncomingMessage, res: ServerResponse, params: RouteParams) => {
    const body = await readJsonBody(req, spec.codec);
    const badIds = idProblems(params, spec.ids);
    if (E.isLeft(body)) return sendProblem(res, body.left.status, body.left.title, [...badIds, ...body.left.problems]);
    const problems = [...badIds, ...(spec.extraProblems?.(body.right) ?? [])];
    if (problems.length) return sendProblem(res, 400, 'Invalid request body', problems);
    const event = await spec.toEvent(body.right, params);
    const appended = await spec.log.append(event, principalOf(req)?.id ?? 'unknown');
    sendJson(res, spec.okStatus ?? 200, spec.present(event, appended));
  },
});

const logPlace = (a: Appended) => ({ eventId: a.eventId, at: new Date(a.at).toISOString(), log: { topic: a.topic, key: a.key, partition: a.partition, offset: a.offset } });

export const logPlaceOf = (a: Appended) => logPlace(a);

/** `pepper`: the key charger passwords are hashed under (services/common/credential-pepper.ts), the gateways' too. */
export const configRoutes = (log: ConfigLog, pepper: Buffer): ApiRoute[] => [
  configRoute({
    log,
    method: 'PUT',
    path: '/api/v1/sites/{siteId}',
    summary: 'Create or replace a site and its grid connection limit',
    description: 'Appends SiteConfigured to fleet.config.',
    codec: SiteBody,
    ids: ['siteId'],
    toEvent: (b, p) => ({
      type: 'SiteConfigured',
      siteId: p.siteId!,
      name: b.name,
      gridLimitKw: b.gridLimitKw,
      latitude: b.location.lat,
      longitude: b.location.lon,
      timezone: b.timezone,
      maxCurrentA: b.maxCurrentA ?? null,
      baseLoadProfile: (b.baseLoadProfile ?? []).map((x) => ({ ...x })),
    }),
    present: (e, a) =>
      e.type === 'SiteConfigured'
        ? { ...logPlace(a), siteId: e.siteId, name: e.name, gridLimitKw: e.gridLimitKw, location: { lat: e.latitude, lon: e.longitude }, timezone: e.timezone, maxCurrentA: e.maxCurrentA ?? null, baseLoadProfile: e.baseLoadProfile ?? [] }
        : {},
  }),
  configRoute({
    log,
    method: 'PUT',
    path: '/api/v1/sites/{siteId}/tariff',
    summary: "Replace a site's energy tariff",
    description: 'Appends TariffConfigured to fleet.config. Period bounds are ISO 8601 instants or HH:MM local times (a daily pattern).',
    codec: TariffBody,
    ids: ['siteId'],
    extraProblems: (b) => (b.periods.length === 0 ? ['periods: expected at least one period'] : []),
    toEvent: (b, p) => ({ type: 'TariffConfigured', siteId: p.siteId!, currency: b.currency, periods: b.periods.map((x) => ({ ...x })), demandChargePerKwMonth: b.demandChargePerKwMonth }),
    present: (e, a) => (e.type === 'TariffConfigured' ? { ...logPlace(a), siteId: e.siteId, currency: e.currency, periods: e.periods, demandChargePerKwMonth: e.demandChargePerKwMonth } : {}),
  }),
  configRoute({
    log,
    method: 'PUT',
    path: '/api/v1/chargers/{chargePointId}',
    summary: 'Register or replace a charger: site, power, OCPP security profile, Basic-auth password, owning partner',
    description:
      'Appends ChargerConfigured to fleet.config. The password is stored only as a salted HMAC-SHA256 under the deployment\'s credential pepper, which is never stored (passwordHash). ' +
      'ownerPartnerId decides which partner feed (partner.{id}.events) receives the charger\'s events from now on. ' +
      'A lower securityProfile than the charger has takes effect only with securityProfileDowngrade: true (an explicit downgrade, on the log with the key that made it).',
    codec: ChargerBody,
    ids: ['chargePointId'],
    toEvent: async (b, p) => ({
      type: 'ChargerConfigured',
      chargePointId: p.chargePointId!,
      siteId: b.siteId,
      maxPowerKw: b.maxPowerKw,
      securityProfile: b.securityProfile ?? 1,
      securityProfileDowngrade: b.securityProfileDowngrade ?? false,
      passwordHash: b.password ? hashChargerSecret(b.password, pepper) : null,
      ownerPartnerId: b.ownerPartnerId ?? null,
      phases: b.phases ?? 3,
      currentType: b.currentType ?? 'AC',
      rateUnit: b.rateUnit ?? 'A',
      maxSchedulePeriods: b.maxSchedulePeriods ?? 24,
      panelId: b.panelId ?? null,
      maxCurrentA: b.maxCurrentA ?? null,
      phaseRotation: b.phaseRotation ?? 'RST',
      phaseSwitching: b.phaseSwitching ?? false,
    }),
    present: (e, a) => {
      if (e.type !== 'ChargerConfigured') return {};
      const { passwordHash, type: _type, ...rest } = e;
      return { ...logPlace(a), ...rest, passwordSet: passwordHash !== null };
    },
  }),
  configRoute({
    log,
    method: 'PUT',
    path: '/api/v1/vehicles/{vehicleId}',
    summary: 'Register or replace a vehicle: battery, power limits, consumption, RFID tags, telematics link',
    description: 'Appends VehicleConfigured to fleet.config.',
    codec: VehicleBody,
    ids: ['vehicleId'],
    toEvent: (b, p) => ({
      type: 'VehicleConfigured',
      vehicleId: p.vehicleId!,
      batteryCapacityKwh: b.batteryCapacityKwh,
      maxAcPowerKw: b.maxAcPowerKw,
      maxDcPowerKw: b.maxDcPowerKw,
      consumptionKwhPerKm: b.consumptionKwhPerKm,
      idTags: [...b.idTags],
      telematicsProvider: b.telematics?.provider ?? null,
      providerVehicleId: b.telematics?.providerVehicleId ?? null,
      siteId: b.siteId ?? null,
      acPhases: b.acPhases ?? 3,
    }),
    present: (e, a) => {
      if (e.type !== 'VehicleConfigured') return {};
      const { telematicsProvider, providerVehicleId, type: _type, ...rest } = e;
      return { ...logPlace(a), ...rest, telematics: telematicsProvider ? { provider: telematicsProvider, providerVehicleId } : null };
    },
  }),
  configRoute({
    log,
    method: 'POST',
    path: '/api/v1/vehicles/{vehicleId}/departures',
    summary: 'Schedule a departure: when, and how much charge it needs (exactly one of requiredSocPct, requiredEnergyKwh, routeKm)',
    description: 'Appends DepartureScheduled to fleet.config; 201 with the new departureId.',
    codec: DepartureBody,
    ids: ['vehicleId'],
    okStatus: 201,
    extraProblems: (b) => departureTargetProblems(b as Record<string, unknown>),
    toEvent: (b, p) => ({
      type: 'DepartureScheduled',
      departureId: randomUUID(),
      vehicleId: p.vehicleId!,
      departAt: Date.parse(b.departAt),
      requiredSocPct: b.requiredSocPct ?? null,
      requiredEnergyKwh: b.requiredEnergyKwh ?? null,
      routeKm: b.routeKm ?? null,
      priority: b.priority ?? 1,
    }),
    present: (e, a) => {
      if (e.type !== 'DepartureScheduled') return {};
      const { type: _type, departAt, ...rest } = e;
      return { ...logPlace(a), ...rest, departAt: new Date(departAt).toISOString() };
    },
  }),
];
