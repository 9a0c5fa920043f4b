import { ConfigEvent } from '../../schemas/fleet-config';
import { SourceRef } from '../../schemas/events';
import { SiteRouted, TrackerInput } from '../../schemas/site-routed';
import { tracksEvent } from './decide';

/** The tracker's partitioning: a vehicle can only be matched to a charger of its own site, so every input goes to the
 *  site it concerns (the key of vehicle-tracker.by-site), and the tracker's state is one value per site. Which site a
 *  charger or a vehicle belongs to comes from fleet.config, held in full by every router instance (a global table). */
export interface SiteTable {
  readonly chargerSite: Readonly<Record<string, string>>;
  readonly vehicleSite: Readonly<Record<string, string>>;
}

export const emptySiteTable: SiteTable = { chargerSite: {}, vehicleSite: {} };

/** The key of chargers and vehicles configured without a site, or not configured at all: they are matched among
 *  themselves, as the one global tracker matched everything. */
export const NO_SITE = '';

export const withSiteConfig = (t: SiteTable, c: ConfigEvent): SiteTable => {
  const b = c.body;
  if (b.type === 'ChargerConfigured') return { ...t, chargerSite: { ...t.chargerSite, [b.chargePointId]: b.siteId } };
  if (b.type === 'VehicleConfigured') return { ...t, vehicleSite: { ...t.vehicleSite, [b.vehicleId]: b.siteId ?? NO_SITE } };
  return t;
};

/** Whether routing the input needs a charger or vehicle the table does not know (yet). */
export const unknownTo = (t: SiteTable, i: TrackerInput): boolean =>
  i.kind === 'event' ? tracksEvent(i.event) && !(i.event.chargePointId in t.chargerSite) : i.kind === 'reading' ? !(i.reading.vehicleId in t.vehicleSite) : false;

/** The site an input concerns, or undefined when the tracker has no use for it (our own decisions, statuses,
 *  tariffs, departures...). A configuration goes to the site it names: the site's state learns its location, its
 *  chargers and its vehicles' id tags in the order its partition holds them. */
export const siteOf = (t: SiteTable, i: TrackerInput): string | undefined => {
  switch (i.kind) {
    case 'event':
      return tracksEvent(i.event) ? (t.chargerSite[i.event.chargePointId] ?? NO_SITE) : undefined;
    case 'reading':
      return t.vehicleSite[i.reading.vehicleId] ?? NO_SITE;
    case 'config': {
      const b = i.config.body;
      if (b.type === 'SiteConfigured' || b.type === 'ChargerConfigured') return b.siteId;
      if (b.type === 'VehicleConfigured') return b.siteId ?? NO_SITE;
      return undefined;
    }
  }
};

export const route = (t: SiteTable, input: TrackerInput, source: SourceRef): readonly SiteRouted[] => {
  const site = siteOf(t, input);
  return site === undefined ? [] : [{ site, source, input }];
};
