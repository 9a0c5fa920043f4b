import { unwrapUnion, wrapUnion } from './union';

/** fleet.config: every configuration write, as an event (schemas/avro/fleet.config.avsc). Key: `<kind>:<id>`. */
export interface TariffPeriod {
  /** ISO 8601 instant, or HH:MM local time for a daily pattern. */
  from: string;
  to: string;
  pricePerKwh: number;
}

export type ConfigBody =
  | { type: 'SiteConfigured'; siteId: string; name: string; gridLimitKw: number; latitude: number; longitude: number; timezone: string }
  | { type: 'TariffConfigured'; siteId: string; currency: string; periods: TariffPeriod[]; demandChargePerKwMonth: number }
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
    };

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
    case 'ChargerConfigured':
      return `charger:${b.chargePointId}`;
    case 'VehicleConfigured':
      return `vehicle:${b.vehicleId}`;
    case 'DepartureScheduled':
      return `departure:${b.vehicleId}`;
  }
};

export const configToAvro = (e: ConfigEvent): Record<string, unknown> => ({ ...e, body: wrapUnion(ns, e.body) });

export const configFromAvro = (r: Record<string, unknown>): ConfigEvent => ({
  eventId: r.eventId as string,
  at: Number(r.at),
  actor: r.actor as string,
  body: unwrapUnion<ConfigBody>(ns, r.body),
});
