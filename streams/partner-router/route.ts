import { ChargingEvent } from '../../schemas/events';
import { partnerIdPattern, partnerTopic, Topics } from '../../schemas/topics';
import { SourceRef } from '../../schemas/events';
import { Ownership, ownerAt } from './ownership';

/** One routed event: charging.events record → the topic of the partner that owned its charger when the log received
 *  it. Pure. */
export interface PartnerRouted {
  readonly partnerId: string;
  readonly topic: string;
  readonly event: ChargingEvent;
  /** The charging.events record's timestamp, kept as the partner record's own (the event's time is in its value). */
  readonly receivedAt: number;
  /** `charging.events/<partition>/<offset>`: the record it came from. */
  readonly source: string;
}

export type RouteRefusal = { readonly unroutableOwner: string };

/** Whose the event is: the owner of its charger at `receivedAt` (the log's clock, never the charger's `occurredAt`), if
 *  any; an owner whose id cannot name a topic gets nothing. */
export const partnerOf = (ownership: Ownership, event: ChargingEvent, receivedAt: number): { partnerId: string } | RouteRefusal | undefined => {
  const owner = ownerAt(ownership, event.chargePointId, receivedAt);
  if (!owner) return undefined;
  return partnerIdPattern.test(owner) ? { partnerId: owner } : { unroutableOwner: owner };
};

export const routeToPartner = (ownership: Ownership, event: ChargingEvent, receivedAt: number, from: SourceRef): readonly PartnerRouted[] => {
  const to = partnerOf(ownership, event, receivedAt);
  if (!to || !('partnerId' in to)) return [];
  return [{ partnerId: to.partnerId, topic: partnerTopic(to.partnerId), event, receivedAt, source: `${Topics.chargingEvents}/${from.partition}/${from.offset}` }];
};
