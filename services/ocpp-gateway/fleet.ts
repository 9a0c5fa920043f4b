/** The gateway's view of fleet.config: which chargers exist (with their security profile, secret hash and smart
 *  charging limits), which idTags belong to configured vehicles, the id-token registry and the reservations that hold
 *  a charger. A fold of ConfigEvents, no I/O. */
import { ConfigBody, ConfigEvent, IdTokenConfigured } from '../../schemas/fleet-config';

export type ChargerConfig = Omit<Extract<ConfigBody, { type: 'ChargerConfigured' }>, 'type'>;

export interface FleetView {
  readonly chargers: Map<string, ChargerConfig>;
  /** idTag → vehicleId */
  readonly idTags: Map<string, string>;
  /** vehicleId → its idTags, to drop tags a later VehicleConfigured no longer lists. */
  readonly vehicleTags: Map<string, readonly string[]>;
  /** The id-token registry: idToken → its latest entry. */
  readonly tokens: Map<string, IdTokenConfigured>;
  /** chargePointId → its reservations by reservationId (expired ones stay until cancelled or replaced; the check
   *  compares expiresAt with the time of the question). */
  readonly reservations: Map<string, Map<number, Reservation>>;
}

export interface Reservation {
  readonly reservationId: number;
  readonly connectorId: number;
  readonly idTag: string;
  readonly expiresAt: number;
}

export const emptyFleet = (): FleetView => ({ chargers: new Map(), idTags: new Map(), vehicleTags: new Map(), tokens: new Map(), reservations: new Map() });

/** A charger's security profile goes down only by an explicit downgrade (securityProfileDowngrade, which the API sets
 *  only when asked to, on a record that names its actor). A write that would lower it silently, such as a PUT that
 *  leaves securityProfile out and so means 1, changes everything else and keeps the profile. */
export const securityProfileAfter = (previous: ChargerConfig | undefined, next: ChargerConfig): number =>
  previous && next.securityProfile < previous.securityProfile && next.securityProfileDowngrade !== true ? previous.securityProfile : next.securityProfile;

/** Applies one configuration event. The view is updated in place and returned: it holds one entry per charger
 *  and vehicle of the fleet, and copying it per event would make the start-up fold quadratic. */
export const evolveFleet = (view: FleetView, e: ConfigEvent): FleetView => {
  const b = e.body;
  switch (b.type) {
    case 'ChargerConfigured': {
      const { type: _type, ...config } = b;
      view.chargers.set(b.chargePointId, { ...config, securityProfile: securityProfileAfter(view.chargers.get(b.chargePointId), config) });
      return view;
    }
    case 'VehicleConfigured': {
      for (const tag of view.vehicleTags.get(b.vehicleId) ?? []) if (view.idTags.get(tag) === b.vehicleId) view.idTags.delete(tag);
      for (const tag of b.idTags) view.idTags.set(tag, b.vehicleId);
      view.vehicleTags.set(b.vehicleId, [...b.idTags]);
      return view;
    }
    case 'IdTokenConfigured':
      view.tokens.set(b.idToken, b);
      return view;
    case 'ReservationMade': {
      const held = view.reservations.get(b.chargePointId) ?? new Map<number, Reservation>();
      held.set(b.reservationId, { reservationId: b.reservationId, connectorId: b.connectorId, idTag: b.idTag, expiresAt: b.expiresAt });
      view.reservations.set(b.chargePointId, held);
      return view;
    }
    case 'ReservationCancelled':
      view.reservations.get(b.chargePointId)?.delete(b.reservationId);
      return view;
    default:
      return view;
  }
};

/** The decision on one id token, in the vocabulary both OCPP versions share (1.6 AuthorizationStatus, 2.0.1
 *  AuthorizationStatusEnumType). Unknown tokens are Invalid in both versions (2.0.1 also has Unknown; Invalid is
 *  what chargers of both versions have always been answered). */
export interface TokenDecision {
  readonly status: 'Accepted' | 'Blocked' | 'Expired' | 'Invalid';
  readonly expiresAt?: number;
  readonly parentIdTag?: string;
}

/** Who may charge, a pure function of the folded configuration and the time of the question: the registry's entry
 *  decides (blocked, expired by status or by its expiry, or accepted); a token the registry does not know is accepted
 *  when it is a configured vehicle's tag, and Invalid otherwise. A token whose group (parent id tag) is blocked or
 *  expired is refused with its group's status. */
export const decideToken = (view: FleetView, idToken: string, now: number): TokenDecision => {
  const entry = view.tokens.get(idToken);
  if (!entry) return view.idTags.has(idToken) ? { status: 'Accepted' } : { status: 'Invalid' };
  const own = entryStatus(entry, now);
  const parent = entry.parentIdTag === null ? undefined : view.tokens.get(entry.parentIdTag);
  const status = own === 'Accepted' && parent ? entryStatus(parent, now) : own;
  return {
    status,
    ...(entry.expiresAt !== null ? { expiresAt: entry.expiresAt } : {}),
    ...(entry.parentIdTag !== null ? { parentIdTag: entry.parentIdTag } : {}),
  };
};

const entryStatus = (e: IdTokenConfigured, now: number): TokenDecision['status'] =>
  e.status !== 'Accepted' ? e.status : e.expiresAt !== null && e.expiresAt <= now ? 'Expired' : 'Accepted';

/** Kept for callers that only need the status. */
export const authorizeIdTag = (view: FleetView, idTag: string, now: number): TokenDecision['status'] => decideToken(view, idTag, now).status;

/** A reservation that holds the charger (connector 0) or this connector at `now` for another token (and not for
 *  one of its group); undefined when the start may go ahead. */
export const heldFor = (view: FleetView, chargePointId: string, connectorId: number | undefined, idTag: string, now: number): Reservation | undefined => {
  const held = view.reservations.get(chargePointId);
  if (!held) return undefined;
  const group = view.tokens.get(idTag)?.parentIdTag ?? null;
  for (const r of held.values()) {
    if (r.expiresAt <= now) continue;
    if (r.connectorId !== 0 && connectorId !== undefined && connectorId !== 0 && r.connectorId !== connectorId) continue;
    if (r.idTag === idTag || (group !== null && r.idTag === group)) continue;
    return r;
  }
  return undefined;
};

/** Configured chargers are Accepted at boot; the gateway never lets an unconfigured one connect in the first place. */
export const bootStatus = (view: FleetView, chargePointId: string): 'Accepted' | 'Rejected' => (view.chargers.has(chargePointId) ? 'Accepted' : 'Rejected');
