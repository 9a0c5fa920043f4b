import { createHmac, timingSafeEqual } from 'node:crypto';
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';

/** The dashboard's browser session: what a person gets for typing an API key into its login form once. A cookie
 *  holding who logged in, whether their key may see id tags (`history:read`) and when the session ends, signed with
 *  an HMAC (services/common/signing-key.ts, purpose `dashboard-session`). The key itself is never in the cookie. */
export interface DashboardSession {
  /** The key id (`admin` for the configured admin key). */
  readonly principal: string;
  readonly seesIdTags: boolean;
  readonly expiresAt: number;
  /** The key holds commands:write: the operator buttons (commands.ts) may be used. */
  readonly mayCommand?: boolean;
}

export const sessionCookieName = 'voltstream_dashboard';

const Payload = t.intersection([t.type({ p: t.string, h: t.boolean, exp: t.number }), t.partial({ c: t.boolean })]);

const macOf = (key: Buffer, body: string) => createHmac('sha256', key).update(body).digest().subarray(0, 16);

export const signSession = (key: Buffer, s: DashboardSession): string => {
  const body = Buffer.from(JSON.stringify({ p: s.principal, h: s.seesIdTags, exp: s.expiresAt, c: s.mayCommand === true })).toString('base64url');
  return `${body}.${macOf(key, body).toString('base64url')}`;
};

export const verifySession = (key: Buffer, value: string, now: number): E.Either<string, DashboardSession> => {
  const m = /^([A-Za-z0-9_-]{1,1024})\.([A-Za-z0-9_-]{22})$/.exec(value);
  if (!m) return E.left('not a dashboard session');
  const given = Buffer.from(m[2]!, 'base64url');
  if (given.length !== 16 || !timingSafeEqual(given, macOf(key, m[1]!))) return E.left('not a dashboard session');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8'));
  } catch {
    return E.left('not a dashboard session');
  }
  const p = Payload.decode(json);
  if (E.isLeft(p)) return E.left('not a dashboard session');
  if (p.right.exp <= now) return E.left('the dashboard session has expired: log in again');
  return E.right({ principal: p.right.p, seesIdTags: p.right.h, expiresAt: p.right.exp, mayCommand: p.right.c === true });
};

/** The session cookie's value in a Cookie header, if there is one. */
export const sessionCookie = (header: string | undefined): string | undefined => {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === sessionCookieName) return part.slice(i + 1).trim();
  }
  return undefined;
};

/** HttpOnly (page scripts never see it), SameSite=Strict (no other site's page sends it), only under /dashboard. */
export const setSessionCookie = (value: string, maxAgeS: number): string =>
  `${sessionCookieName}=${value}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}`;

export const clearSessionCookie = `${sessionCookieName}=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0`;
