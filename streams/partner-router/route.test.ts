import { ChargingEvent } from '../../schemas/events';
import { ConfigEvent } from '../../schemas/fleet-config';
import { evolveOwnership, initialOwnership, Ownership } from './ownership';
import { routeToPartner } from './route';

const configured = (cp: string, at: number, owner: string | null): ConfigEvent => ({
  eventId: `e${at}`, at, actor: 'test',
  body: { type: 'ChargerConfigured', chargePointId: cp, siteId: 's', maxPowerKw: 22, securityProfile: 1, passwordHash: null, ownerPartnerId: owner, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 },
});
const event = (cp: string, occurredAt: number): ChargingEvent => ({ eventId: `ev-${cp}-${occurredAt}`, chargePointId: cp, occurredAt, source: null, body: { type: 'HeartbeatReceived' } });
const from = { topic: 'charging.events', partition: 2, offset: 17 };
const given = (...configs: ConfigEvent[]): Ownership => configs.reduce(evolveOwnership, initialOwnership);

describe('partner router: an event to the partner owning its charger when the log received it', () => {
  it('given CP1 owned by acme from t=100, when an event is received at 150, then it goes to partner.acme.events with its receive time and source', () => {
    expect(routeToPartner(given(configured('CP1', 100, 'acme')), event('CP1', 150), 150, from)).toEqual([
      { partnerId: 'acme', topic: 'partner.acme.events', event: event('CP1', 150), receivedAt: 150, source: 'charging.events/2/17' },
    ]);
  });

  it("given CP1 moved from acme to bolt at 200, when an event dated 199 by the charger's clock is received at 250, then it is bolt's", () => {
    expect(routeToPartner(given(configured('CP1', 100, 'acme'), configured('CP1', 200, 'bolt')), event('CP1', 199), 250, from).map((r) => r.partnerId)).toEqual(['bolt']);
  });

  it('given no owner, or an owner released, or another charger, then the event goes nowhere', () => {
    const o = given(configured('CP1', 100, 'acme'), configured('CP1', 300, null));
    expect(routeToPartner(o, event('CP1', 350), 350, from)).toEqual([]);
    expect(routeToPartner(o, event('CP2', 150), 150, from)).toEqual([]);
    expect(routeToPartner(o, event('CP1', 50), 50, from)).toEqual([]);
  });

  it('given an owner id that cannot name a topic, then the event is not routed', () => {
    expect(routeToPartner(given(configured('CP1', 100, 'no/such topic')), event('CP1', 150), 150, from)).toEqual([]);
  });
});
