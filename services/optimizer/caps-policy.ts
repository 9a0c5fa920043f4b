/** When the fallback caps (TxDefaultProfile and the charger-wide max profile, profiles.ts safeCapCommands) are due,
 *  pure: `capsDue(before, after, input)` names the site and which of its chargers, or null.
 *  - A charger that connected or booted: its own caps, at once. A charger without any profile charges at its maximum
 *    (OCPP 1.6 §3.13, 2.0.1 K), and one that rebooted may have lost what it held, so this does not wait for a plan.
 *    The other chargers' shares already count it (shares are of every configured charger, connected or not).
 *  - Whatever changes every charger's share: a charger configured (the site's total changes), a panel, a limit event
 *    scheduled or cancelled, the site's limits, the building's recent peak rising above what the caps left room for,
 *    or the connection meter heard again after a silence (the caps were blind). */
import { BuildingHistory } from './building-history';
import { FleetState, Input } from './state';

export interface CapsDue {
  readonly siteId: string;
  /** null: every charger of the site. */
  readonly chargePointId: string | null;
}

/** The fallback caps leave room for the building's highest reading of the last day (building-history.ts). */
const RECENT_PEAK_MS = 24 * 3600000;
/** As replan.ts: a connection meter silent this long was blind. */
const METER_BACK_MS = 2 * 60000;

const recentPeakKw = (h: BuildingHistory | undefined): number =>
  h === undefined ? -Infinity : h.slots.reduce((m, x) => (x.at > h.lastAt - RECENT_PEAK_MS ? Math.max(m, x.maxKw) : m), h.open.maxKw);

export const capsDue = (before: FleetState, after: FleetState, i: Input): CapsDue | null => {
  switch (i.kind) {
    case 'event': {
      const b = i.event.body;
      if (b.type !== 'ChargerConnected' && b.type !== 'ChargerBooted') return null;
      const siteId = after.chargers.get(i.event.chargePointId)?.siteId;
      return siteId === undefined ? null : { siteId, chargePointId: i.event.chargePointId };
    }
    case 'config': {
      const b = i.event.body;
      switch (b.type) {
        case 'ChargerConfigured':
        case 'PanelConfigured':
        case 'LimitEventScheduled':
        case 'LimitEventCancelled':
          return { siteId: b.siteId, chargePointId: null };
        case 'SiteConfigured': {
          const a = before.sites.get(b.siteId);
          const same =
            a !== undefined && a.gridLimitKw === b.gridLimitKw && (a.maxCurrentA ?? null) === (b.maxCurrentA ?? null) && JSON.stringify(a.baseLoadProfile ?? []) === JSON.stringify(b.baseLoadProfile ?? []);
          return same ? null : { siteId: b.siteId, chargePointId: null };
        }
        default:
          return null;
      }
    }
    case 'meter': {
      const siteId = i.reading.siteId;
      const b = before.building.get(siteId);
      const a = after.building.get(siteId);
      if (a === undefined || a === b || a.lastAt !== i.reading.measuredAt) return null;
      const back = b === undefined || i.reading.measuredAt - b.lastAt > METER_BACK_MS;
      return back || a.lastKw > recentPeakKw(b) ? { siteId, chargePointId: null } : null;
    }
    default:
      return null;
  }
};
