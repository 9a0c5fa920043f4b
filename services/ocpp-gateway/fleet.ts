/** The gateway's view of fleet.config: which chargers exist (with their security profile, secret hash and smart
 *  charging limits) and which idTags belong to configured vehicles. A fold of ConfigEvents, no I/O. */
import { ConfigBody, ConfigEvent } from '../../schemas/fleet-config';

export type ChargerConfig = Omit<Extract<ConfigBody, { type: 'ChargerConfigured' }>, 'type'>;

export interface FleetView {
  readonly chargers: Map<string, ChargerConfig>;
  /** idTag → vehicleId */
  readonly idTags: Map<string, string>;
  /** vehicleId → its idTags, to drop tags a later VehicleConfigured no longer lists. */
  readonly vehicleTags: Map<string, readonly string[]>;
}

export const emptyFleet = (): FleetView => ({ chargers: new Map(), idTags: new Map(), vehicleTags: new Map() });

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
    default:
      return view;
  }
};

export type IdTagStatus = 'Accepted' | 'Invalid';

/** Authorization is a pure function of the folded configuration: tags of configured vehicles are Accepted. */
export const authorizeIdTag = (view: FleetView, idTag: string): IdTagStatus => (view.idTags.has(idTag) ? 'Accepted' : 'Invalid');

/** Configured chargers are Accepted at boot; the gateway never lets an unconfigured one connect in the first place. */
export const bootStatus = (view: FleetView, chargePointId: string): 'Accepted' | 'Rejected' => (view.chargers.has(chargePointId) ? 'Accepted' : 'Rejected');
