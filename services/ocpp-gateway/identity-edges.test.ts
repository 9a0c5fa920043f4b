/** The pure rules of issue 14 item 7: the client certificate checks of profile 3 and the fleet fold's security
 *  profile, which goes down only by an explicit downgrade. */
import { randomUUID } from 'node:crypto';
import { ConfigBody } from '../../schemas/fleet-config';
import { checkClientCertificate, CertificateFacts } from './client-certificate';
import { emptyFleet, evolveFleet } from './fleet';

const facts = (f: Partial<CertificateFacts>): CertificateFacts => ({ commonNames: ['CP-1'], extendedKeyUsage: ['1.3.6.1.5.5.7.3.2'], digitalSignature: true, ...f });

test('client certificate: clientAuth, digitalSignature where a keyUsage exists, exactly one CN equal to the id', () => {
  expect(checkClientCertificate(facts({}), 'CP-1')._tag).toBe('Right');
  expect(checkClientCertificate(facts({ digitalSignature: undefined }), 'CP-1')._tag).toBe('Right');
  expect(checkClientCertificate(facts({ extendedKeyUsage: undefined }), 'CP-1')).toEqual({ _tag: 'Left', left: 'client certificate has no extended key usage; clientAuth is required' });
  expect(checkClientCertificate(facts({ extendedKeyUsage: ['1.3.6.1.5.5.7.3.1'] }), 'CP-1')).toEqual({ _tag: 'Left', left: "client certificate's extended key usage (1.3.6.1.5.5.7.3.1) does not include clientAuth" });
  expect(checkClientCertificate(facts({ digitalSignature: false }), 'CP-1')).toEqual({ _tag: 'Left', left: 'client certificate has a keyUsage without digitalSignature' });
  expect(checkClientCertificate(facts({ commonNames: ['CP-1', 'CP-2'] }), 'CP-1')._tag).toBe('Left');
  expect(checkClientCertificate(facts({ commonNames: [] }), 'CP-1')._tag).toBe('Left');
  expect(checkClientCertificate(facts({ commonNames: ['cp-1'] }), 'CP-1')).toEqual({ _tag: 'Left', left: 'client certificate CN "cp-1" does not match CP-1' });
});

const charger = (securityProfile: number, securityProfileDowngrade?: boolean): ConfigBody => ({
  type: 'ChargerConfigured',
  chargePointId: 'CP-1',
  siteId: 'S',
  maxPowerKw: 22,
  securityProfile,
  passwordHash: null,
  ownerPartnerId: null,
  phases: 3,
  currentType: 'AC',
  rateUnit: 'A',
  maxSchedulePeriods: 24,
  ...(securityProfileDowngrade === undefined ? {} : { securityProfileDowngrade }),
});
const profileAfter = (...bodies: ConfigBody[]) =>
  bodies.reduce((v, body, i) => evolveFleet(v, { eventId: randomUUID(), at: i, actor: 'test', body }), emptyFleet()).chargers.get('CP-1')?.securityProfile;

test('security profile: raised by any write, lowered only by an explicit downgrade', () => {
  expect(profileAfter(charger(1), charger(3))).toBe(3);
  expect(profileAfter(charger(3), charger(1))).toBe(3);
  expect(profileAfter(charger(3), charger(2, false))).toBe(3);
  expect(profileAfter(charger(3), charger(2, true))).toBe(2);
  expect(profileAfter(charger(3), charger(2, true), charger(1))).toBe(2);
  expect(profileAfter(charger(2, true))).toBe(2);
});
