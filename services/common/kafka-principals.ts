/** Kafka user names that belong to the platform, never to a partner. A partner is a SCRAM user named after its partner
 *  id, so a partner id equal to one of these (in any case: principals are compared as written, but people and tools
 *  are not) would hand that partner the platform's own identity: `ANONYMOUS` is what the broker calls every
 *  unauthenticated client, the service and controller users are super users of a secure broker. */
export const serviceUserName = 'voltstream-service';
export const controllerUserName = 'voltstream-controller';

const reservedPrefixes = ['voltstream', 'user:', 'kafka', 'admin', 'broker', 'controller'] as const;
const reservedNames = ['anonymous', 'root', 'super', 'superuser', 'schema-registry', 'registry'] as const;

/** Why `name` may not become a partner's Kafka user, or undefined when it may. */
export const reservedPrincipalProblem = (name: string): string | undefined => {
  const lower = name.toLowerCase();
  if (lower === 'anonymous') return `${JSON.stringify(name)} is reserved: it is the name Kafka gives every unauthenticated client`;
  if ((reservedNames as readonly string[]).includes(lower)) return `${JSON.stringify(name)} is reserved for the platform`;
  const prefix = reservedPrefixes.find((p) => lower.startsWith(p));
  if (prefix) return `${JSON.stringify(name)} is reserved: names starting with "${prefix}" (in any case) belong to the platform's own Kafka users`;
  return undefined;
};
