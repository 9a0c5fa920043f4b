import { DocumentProjection } from './projection';
import { fleetChargers, fleetDepartures, fleetSites, fleetVehicles } from './tables';

/** fleet_* tables: configuration as last written (fleet.config has one partition: one total order). */
export const fleetSitesProjection: DocumentProjection = {
  kind: 'document',
  table: fleetSites,
  keyOf: (i) => (i.kind === 'config' && i.config.body.type === 'SiteConfigured' ? [i.config.body.siteId] : undefined),
  evolve: (row, i) => {
    if (i.kind !== 'config' || i.config.body.type !== 'SiteConfigured') return row;
    const b = i.config.body;
    return { site_id: b.siteId, name: b.name, grid_limit_kw: b.gridLimitKw, latitude: b.latitude, longitude: b.longitude, timezone: b.timezone, configured_at: i.config.at };
  },
};

export const fleetChargersProjection: DocumentProjection = {
  kind: 'document',
  table: fleetChargers,
  keyOf: (i) => (i.kind === 'config' && i.config.body.type === 'ChargerConfigured' ? [i.config.body.chargePointId] : undefined),
  evolve: (row, i) => {
    if (i.kind !== 'config' || i.config.body.type !== 'ChargerConfigured') return row;
    const b = i.config.body;
    return { charge_point_id: b.chargePointId, site_id: b.siteId, max_power_kw: b.maxPowerKw, owner_partner_id: b.ownerPartnerId, phases: b.phases, current_type: b.currentType, configured_at: i.config.at };
  },
};

export const fleetVehiclesProjection: DocumentProjection = {
  kind: 'document',
  table: fleetVehicles,
  keyOf: (i) => (i.kind === 'config' && i.config.body.type === 'VehicleConfigured' ? [i.config.body.vehicleId] : undefined),
  evolve: (row, i) => {
    if (i.kind !== 'config' || i.config.body.type !== 'VehicleConfigured') return row;
    const b = i.config.body;
    return {
      vehicle_id: b.vehicleId,
      battery_capacity_kwh: b.batteryCapacityKwh,
      max_ac_power_kw: b.maxAcPowerKw,
      max_dc_power_kw: b.maxDcPowerKw,
      consumption_kwh_per_km: b.consumptionKwhPerKm,
      id_tags: b.idTags,
      telematics_provider: b.telematicsProvider,
      site_id: b.siteId,
      configured_at: i.config.at,
    };
  },
};

export const fleetDeparturesProjection: DocumentProjection = {
  kind: 'document',
  table: fleetDepartures,
  keyOf: (i) => (i.kind === 'config' && i.config.body.type === 'DepartureScheduled' ? [i.config.body.vehicleId] : undefined),
  evolve: (row, i) => {
    if (i.kind !== 'config' || i.config.body.type !== 'DepartureScheduled') return row;
    const b = i.config.body;
    return {
      vehicle_id: b.vehicleId,
      departure_id: b.departureId,
      depart_at: b.departAt,
      required_soc_pct: b.requiredSocPct,
      required_energy_kwh: b.requiredEnergyKwh,
      route_km: b.routeKm,
      priority: b.priority,
      configured_at: i.config.at,
    };
  },
};
