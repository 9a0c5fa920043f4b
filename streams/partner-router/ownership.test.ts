import { evolveOwnership, initialOwnership, ownerAt } from './ownership';
import { ConfigEvent } from '../../schemas/fleet-config';

const configured = (cp: string, at: number, owner: string | null): ConfigEvent => ({
  eventId: `e${at}`, at, actor: 'test',
  body: { type: 'ChargerConfigured', chargePointId: cp, siteId: 's', maxPowerKw: 22, securityProfile: 1, passwordHash: null, ownerPartnerId: owner, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 },
});

test('an event goes to whoever owned the charger at the event time', () => {
  const s = [configured('CP1', 100, 'acme'), configured('CP1', 200, 'bolt'), configured('CP1', 300, null)].reduce(evolveOwnership, initialOwnership);
  expect(ownerAt(s, 'CP1', 99)).toBeNull();
  expect(ownerAt(s, 'CP1', 100)).toBe('acme');
  expect(ownerAt(s, 'CP1', 199)).toBe('acme');
  expect(ownerAt(s, 'CP1', 200)).toBe('bolt');
  expect(ownerAt(s, 'CP1', 300)).toBeNull();
  expect(ownerAt(s, 'CP2', 150)).toBeNull();
});

test('re-configuring without an owner change adds nothing; other config events are ignored', () => {
  const a = evolveOwnership(initialOwnership, configured('CP1', 100, 'acme'));
  expect(evolveOwnership(a, configured('CP1', 150, 'acme'))).toBe(a);
  expect(evolveOwnership(a, { eventId: 'x', at: 1, actor: 't', body: { type: 'SiteConfigured', siteId: 's', name: 'n', gridLimitKw: 1, latitude: 0, longitude: 0, timezone: 'UTC' } })).toBe(a);
});
