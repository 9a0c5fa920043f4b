import { unwrapUnion, wrapUnion } from './union';

/** fleet.config: every configuration write, as an event (schemas/avro/fleet.config.avsc). Key: `<kind>:<id>`. */
export interface TariffPeriod {
  /** ISO 8601 instant, or HH:MM local time for a daily pattern. */
  from: string;
  to: string;
  pricePerKwh: number;
}

/** A daily pattern of the building's load (everything on the connection but the chargers), local time: the stand-in
 *  for a measured forecast where a site has no connection meter. */
export interface BaseLoadPeriod {
  /** HH:MM local time. */
  from: string;
  to: string;
  /** Expected and upper-quantile kW. */
  kw: number;
  upperKw: number;
}

export type ConfigBody =
  | {
      type: 'SiteConfigured';
      siteId: string;
      name: string;
      gridLimitKw: number;
      latitude: number;
      longitude: number;
      timezone: string;
      /** Per-phase current limit of the connection (A); absent in events written before it existed. */
      maxCurrentA?: number | null;
      baseLoadProfile?: BaseLoadPeriod[];
    }
  | { type: 'TariffConfigured'; siteId: string; currency: string; periods: TariffPeriod[]; demandChargePerKwMonth: number }
  | PanelConfigured
  | LimitEventScheduled
  | { type: 'LimitEventCancelled'; siteId: string; limitEventId: string }
  | {
      type: 'ChargerConfigured';
      chargePointId: string;
      siteId: string;
      maxPowerKw: number;
      securityProfile: number;
      passwordHash: string | null;
      ownerPartnerId: string | null;
      phases: number;
      currentType: string;
      rateUnit: string;
      maxSchedulePeriods: number;
      /** This write may lower the charger's security profile; without it a lower profile is not applied (the
       *  gateway keeps the higher one). Absent in records written before it existed. */
      securityProfileDowngrade?: boolean;
      /** Where it hangs in the site's hierarchy (null: on the connection), its per-phase current limit (A), which grid
       *  phase each of its L1-L3 is wired to ('RST' = in order), and whether it can switch a one-phase vehicle's phase. */
      panelId?: string | null;
      maxCurrentA?: number | null;
      phaseRotation?: string;
      phaseSwitching?: boolean;
    }
  | {
      type: 'VehicleConfigured';
      vehicleId: string;
      batteryCapacityKwh: number;
      maxAcPowerKw: number;
      maxDcPowerKw: number;
      consumptionKwhPerKm: number;
      idTags: string[];
      telematicsProvider: string | null;
      providerVehicleId: string | null;
      siteId: string | null;
      /** Phases its on-board AC charger draws on (1, 2 or 3). */
      acPhases?: number;
    }
  | {
      type: 'DepartureScheduled';
      departureId: string;
      vehicleId: string;
      departAt: number;
      requiredSocPct: number | null;
      requiredEnergyKwh: number | null;
      routeKm: number | null;
      priority: number;
    }
  | IdTokenConfigured
  | { type: 'ReservationMade'; chargePointId: string; reservationId: number; connectorId: number; idTag: string; expiresAt: number; commandId: string }
  | { type: 'ReservationCancelled'; chargePointId: string; reservationId: number; commandId: string | null };

export type IdTokenStatus = 'Accepted' | 'Blocked' | 'Expired';

/** The id-token registry's entry for one token (RFID card, app token, vehicle tag). */
export interface IdTokenConfigured {
  type: 'IdTokenConfigured';
  idToken: string;
  tokenType: string;
  status: IdTokenStatus;
  expiresAt: number | null;
  parentIdTag: string | null;
  vehicleId: string | null;
  driverId: string | null;
}

/** A feeder, distribution board or transformer of a site, fed from the connection or from another panel. */
export interface PanelConfigured {
  type: 'PanelConfigured';
  siteId: string;
  panelId: string;
  name: string;
  parentPanelId: string | null;
  limitKw: number;
  maxCurrentA: number | null;
}

/** A time-bounded reduction of a site's connection limit (a utility's demand-response event, an operator's order). */
export interface LimitEventScheduled {
  type: 'LimitEventScheduled';
  siteId: string;
  limitEventId: string;
  startAt: number;
  endAt: number;
  limitKw: number;
  /** Who asked: 'api', 'openadr:<ven>', ... */
  source: string;
  /** The requester's own id of the event (an OpenADR event id), if any. */
  reference: string | null;
}

export interface ConfigEvent<B extends ConfigBody = ConfigBody> {
  eventId: string;
  at: number;
  actor: string;
  body: B;
}

const ns = 'io.voltstream.config';

export const configKey = (b: ConfigBody): string => {
  switch (b.type) {
    case 'SiteConfigured':
      return `site:${b.siteId}`;
    case 'TariffConfigured':
      return `tariff:${b.siteId}`;
    case 'PanelConfigured':
      return `panel:${b.siteId}:${b.panelId}`;
    case 'LimitEventScheduled':
    case 'LimitEventCancelled':
      return `limit-event:${b.limitEventId}`;
    case 'ChargerConfigured':
      return `charger:${b.chargePointId}`;
    case 'VehicleConfigured':
      return `vehicle:${b.vehicleId}`;
    case 'DepartureScheduled':
      return `departure:${b.vehicleId}`;
    case 'IdTokenConfigured':
      return `idtoken:${b.idToken}`;
    case 'ReservationMade':
    case 'ReservationCancelled':
      return `reservation:${b.chargePointId}`;
  }
};

export const configToAvro = (e: ConfigEvent): Record<string, unknown> => ({ ...e, body: wrapUnion(ns, e.body) });

export const configFromAvro = (r: Record<string, unknown>): ConfigEvent => ({
  eventId: r.eventId as string,
  at: Number(r.at),
  actor: r.actor as string,
  body: unwrapUnion<ConfigBody>(ns, r.body),
});
