/** The re-plan policy: which folded input should re-plan its site, and why. Pure. */
import { ConfigBody } from '../../schemas/fleet-config';
import { controlKey, FleetState, Input, powerOf, sessionOn } from './state';

const MIN15 = 15 * 60000;
/** A connection meter silent this long and then heard again re-plans (the plan may have been blind). */
const METER_BACK_MS = 2 * 60000;

type SiteConfig = Extract<ConfigBody, { type: 'SiteConfigured' }>;
const siteLimitsSame = (a: SiteConfig | undefined, b: SiteConfig): boolean =>
  a !== undefined && a.gridLimitKw === b.gridLimitKw && (a.maxCurrentA ?? null) === (b.maxCurrentA ?? null) && JSON.stringify(a.baseLoadProfile ?? []) === JSON.stringify(b.baseLoadProfile ?? []);

/** Why `i` (already folded into `after`) should re-plan its site, or null. `plannedKw` gives the current plan's
 *  slot-0 power of a connector, for the 10 % meter deviation rule; `plannedBuildingKw` the building load the current
 *  plan counted in its slot 0, for the building rule. */
export const replanReason = (
  before: FleetState,
  after: FleetState,
  i: Input,
  plannedKw: (chargePointId: string, connectorId: number) => number | undefined,
  plannedBuildingKw: (siteId: string) => number | undefined = () => undefined,
): string | null => {
  switch (i.kind) {
    case 'config': {
      const b = i.event.body;
      switch (b.type) {
        case 'SiteConfigured':
          return siteLimitsSame(before.sites.get(b.siteId), b) ? null : 'limit';
        case 'TariffConfigured':
          return 'price';
        case 'PanelConfigured':
          return 'panel';
        case 'LimitEventScheduled':
        case 'LimitEventCancelled':
          return 'limit-event';
        case 'ChargerConfigured':
          return 'charger';
        case 'ReservationMade':
        case 'ReservationCancelled':
          return 'reservation';
        case 'VehicleConfigured':
          return 'vehicle';
        case 'DepartureScheduled': {
          const p = before.departures.get(b.vehicleId);
          if (!p) return 'departure';
          const moved = Math.abs(p.departAt - b.departAt) > MIN15;
          const changed = p.requiredSocPct !== b.requiredSocPct || p.requiredEnergyKwh !== b.requiredEnergyKwh || p.routeKm !== b.routeKm || p.priority !== b.priority;
          return moved || changed ? 'departure' : null;
        }
      }
      return null;
    }
    case 'reading': {
      const r = i.reading;
      const p = before.telematics.get(r.vehicleId);
      if (after.telematics.get(r.vehicleId) !== r) return null;
      if (!p) return 'soc';
      if (r.socPct !== null && (p.socPct === null || Math.abs(r.socPct - p.socPct) >= 1)) return 'soc';
      if ((r.etaAt ?? 0) !== (p.etaAt ?? 0) && (r.etaAt === null || p.etaAt === null || Math.abs(r.etaAt - p.etaAt) > MIN15)) return 'eta';
      if (r.pluggedIn !== p.pluggedIn) return 'plug';
      return null;
    }
    case 'commanded':
      return null;
    case 'meter': {
      // The building's load jumped (5 % of the connection limit since the last reading), rose that much above what the
      // current plan counted (a ramp of small steps jumps at no single reading), or the meter is back.
      const r = i.reading;
      const b = before.building.get(r.siteId);
      const a = after.building.get(r.siteId);
      if (!a || a === b || a.lastAt !== r.measuredAt) return null;
      if (!b || r.measuredAt - b.lastAt > METER_BACK_MS) return 'meter-back';
      const limit = after.sites.get(r.siteId)?.gridLimitKw ?? Infinity;
      const planned = plannedBuildingKw(r.siteId);
      return Math.abs(a.lastKw - b.lastKw) > 0.05 * limit || (planned !== undefined && a.lastKw > planned + 0.05 * limit) ? 'building' : null;
    }
    case 'composite': {
      const k = controlKey(i.chargePointId, i.connectorId);
      return !before.control.get(k)?.uncontrollable && after.control.get(k)?.uncontrollable ? 'uncontrollable' : null;
    }
    case 'event': {
      const b = i.event.body;
      switch (b.type) {
        case 'SessionStarted':
          return 'plug-in';
        case 'SessionEnded':
          return 'unplug';
        case 'VehicleMatched':
          return 'match';
        case 'ConnectorStatusChanged':
          return b.status === 'Faulted' || before.faulted.has(controlKey(i.event.chargePointId, b.connectorId)) ? 'fault' : null;
        case 'SocEstimated': {
          const p = before.soc.get(b.vehicleId);
          return !p || Math.abs(p.socPct - b.socPct) >= 1 ? 'soc' : null;
        }
        case 'ChargerReportedSoc': {
          const x = before.sessions.get(b.sessionId ?? '') ?? sessionOn(before, i.event.chargePointId, b.connectorId);
          return !x || x.reportedSocPct === null || Math.abs(x.reportedSocPct - b.socPct) >= 1 ? 'soc' : null;
        }
        case 'EvChargingNeedsReported':
          return 'needs';
        case 'ExternalLimitReported':
        case 'ExternalLimitCleared':
          return before.externalLimits === after.externalLimits ? null : 'external-limit';
        case 'CommandCompleted':
          return b.action === 'SetChargingProfile' && b.outcome !== 'ACCEPTED' && before.control !== after.control ? 'rejected' : null;
        case 'MeterSampled': {
          const k = controlKey(i.event.chargePointId, b.connectorId);
          if (!before.control.get(k)?.uncontrollable && after.control.get(k)?.uncontrollable) return 'uncontrollable';
          const power = powerOf(b.samples);
          const planned = plannedKw(i.event.chargePointId, b.connectorId);
          if (power === null || planned === undefined) return null;
          return Math.abs(power - planned) > 0.1 * Math.max(planned, 1) ? 'meter' : null;
        }
        default:
          return null;
      }
    }
  }
};

