import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import * as t from 'io-ts';
import { parseJson } from '../common/decode';
import { Scenario, VehicleSpec, Visit } from './model/fleet';
import { DEPOT_LOCATION } from './telematics';

/** Configures the simulated depot through the public HTTP API (as an operator would): the site and its grid limit,
 *  the tariff, its panels, every charger with its Basic-auth password, every vehicle with its telematics id, and departures. */
export interface ApiTarget {
  readonly url: string;
  readonly adminKey: string;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** One API call; a connection reset (a kept-alive socket the server just closed) or a 503 is retried a few times:
 *  every configuration write is a full replacement, so repeating it is harmless. */
export const apiCall = async (api: ApiTarget, method: 'PUT' | 'POST' | 'GET', path: string, body?: unknown, attempts = 4): Promise<unknown> => {
  let res: Response;
  try {
    res = await fetch(`${api.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${api.adminKey}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (attempts <= 1) throw e;
    await new Promise((r) => setTimeout(r, 300));
    return apiCall(api, method, path, body, attempts - 1);
  }
  if (res.status === 503 && attempts > 1) {
    await res.text().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1000));
    return apiCall(api, method, path, body, attempts - 1);
  }
  const text = await res.text();
  if (!res.ok) throw new ApiError(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`, res.status);
  return text ? (JSON.parse(text) as unknown) : undefined;
};

const ApiHealth = t.type({ checks: t.record(t.string, t.boolean), parts: t.record(t.string, t.type({ status: t.string })) });

/** What the API's /health answered, and whether the API itself can take the configuration: it can when its own
 *  checks (Kafka, the database) pass and none of its own consumers is down, even while it reports 503 for a peer
 *  process that is slow or down (the depot's configuration goes through the API alone). */
export const apiServes = (status: number, body: string): { serves: boolean; said: string } => {
  const said = `${status} ${body.replace(/\s+/g, ' ').slice(0, 300)}`;
  if (status < 500) return { serves: true, said };
  const health = pipe(
    parseJson(body),
    E.chainW((json) => ApiHealth.decode(json)),
  );
  return { serves: E.isRight(health) && Object.values(health.right.checks).every(Boolean) && Object.values(health.right.parts).every((p) => p.status !== 'down'), said };
};

/** Waits until the API answers /health and can take the configuration (it may still be starting); a timeout says
 *  what it answered last. */
export const waitForApi = async (api: ApiTarget, timeoutMs = 60000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await fetch(`${api.url}/health`).then(
      async (r) => apiServes(r.status, await r.text()),
      (e: Error) => ({ serves: false, said: e.message }),
    );
    if (answer.serves) return;
    if (Date.now() > deadline) throw new Error(`the API at ${api.url} did not answer /health within ${timeoutMs / 1000} s; last: ${answer.said}`);
    await new Promise((r) => setTimeout(r, 500));
  }
};

const inBatches = async <T>(items: readonly T[], size: number, fn: (x: T) => Promise<unknown>): Promise<void> => {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
};

export const configureDepot = async (api: ApiTarget, s: Scenario, telematicsProvider: string | undefined): Promise<void> => {
  await apiCall(api, 'PUT', `/api/v1/sites/${encodeURIComponent(s.siteId)}`, {
    name: `Simulated depot (seed ${s.seed})`,
    gridLimitKw: s.gridLimitKw,
    location: DEPOT_LOCATION,
    timezone: 'UTC',
  });
  await apiCall(api, 'PUT', `/api/v1/sites/${encodeURIComponent(s.siteId)}/tariff`, s.tariff);
  for (const p of s.panels) await apiCall(api, 'PUT', `/api/v1/sites/${encodeURIComponent(s.siteId)}/panels/${encodeURIComponent(p.panelId)}`, { limitKw: p.limitKw, ...(p.maxCurrentA !== undefined ? { maxCurrentA: p.maxCurrentA } : {}) });
  await inBatches(s.chargers, 8, (c) =>
    apiCall(api, 'PUT', `/api/v1/chargers/${encodeURIComponent(c.id)}`, {
      siteId: s.siteId,
      maxPowerKw: c.maxPowerKw,
      securityProfile: 1,
      password: c.password,
      phases: c.phases,
      currentType: c.currentType,
      rateUnit: c.rateUnit,
      maxSchedulePeriods: c.maxSchedulePeriods,
      ...(c.panelId !== undefined ? { panelId: c.panelId } : {}),
    }),
  );
  await inBatches(s.vehicles, 8, (v) => configureVehicle(api, s, v, telematicsProvider));
};

export const configureVehicle = (api: ApiTarget, s: Scenario, v: VehicleSpec, telematicsProvider: string | undefined): Promise<unknown> =>
  apiCall(api, 'PUT', `/api/v1/vehicles/${encodeURIComponent(v.id)}`, {
    batteryCapacityKwh: v.battery.capacityKwh,
    maxAcPowerKw: v.battery.maxAcKw,
    maxDcPowerKw: v.battery.maxDcKw,
    consumptionKwhPerKm: v.battery.consumptionKwhPerKm,
    idTags: [v.idTag],
    siteId: s.siteId,
    ...(telematicsProvider ? { telematics: { provider: telematicsProvider, providerVehicleId: v.telematicsId } } : {}),
  });

/** The fleet manager tells the system when a vehicle leaves next and how much charge it needs. */
export const scheduleDeparture = (api: ApiTarget, vehicleId: string, visit: Visit): Promise<unknown> =>
  apiCall(api, 'POST', `/api/v1/vehicles/${encodeURIComponent(vehicleId)}/departures`, {
    departAt: new Date(visit.plannedDepartAt).toISOString(),
    requiredSocPct: visit.requiredSocPct,
    priority: 1,
  });
