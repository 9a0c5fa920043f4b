import * as fs from 'node:fs';
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { decodeWith, parseJson } from '../common/decode';
import { adapters, Shape } from './adapters';

/** Telematics providers: who may push (and how they prove it), who is polled, and in which payload shape.
 *  Read from the JSON file named by TELEMATICS_PROVIDERS_FILE, else the local default below.
 *
 *  LOCAL DEFAULT (well-known development credentials; never use them outside a laptop):
 *  | provider       | shape             | authentication                                                                      |
 *  | voltstream     | voltstream        | header `X-Api-Key: dev-telematics-key`                                              |
 *  | webhook-demo   | consumer-car      | HMAC-SHA256, secret `dev-webhook-secret`: `X-Webhook-Timestamp: <unix seconds>`,     |
 *  |                |                   | `X-Webhook-Signature: sha256=<hex HMAC of "<timestamp>.<raw body>">`, ±300 s window |
 *  | fleet-demo     | fleet-diagnostics | header `X-Api-Key: dev-fleet-key`                                                   |
 *  | pull-demo      | fleet-diagnostics | polled, GET http://127.0.0.1:8084/feed?fromVersion=<toVersion of the last answer>, every 10 s |
 *
 *  File format: `{ "providers": { "<name>": { "shape": ..., "push": {...}?, "pull": {...}? } } }` with
 *  push `{ "type": "api-key", "header"?: "x-api-key", "keys": ["<key>" | "sha256:<hex of the key>"] }` or
 *  `{ "type": "hmac-sha256", "secrets": ["..."], "signatureHeader"?, "timestampHeader"?, "toleranceSeconds"?: 300 }`,
 *  pull `{ "url": "...", "intervalMs"?: 10000, "headers"?: {...}, "cursorParam"?: "fromVersion", "cursorField"?: "toVersion" }`.
 *  Several keys or secrets per provider allow rotation. */
const ProviderName = t.refinement(t.string, (s) => /^[a-z0-9][a-z0-9_-]{0,63}$/.test(s), 'provider name ([a-z0-9_-], at most 64)');
const Secret = t.refinement(t.string, (s) => s.length >= 8, 'secret of at least 8 characters');
const HeaderName = t.refinement(t.string, (s) => /^[A-Za-z0-9-]+$/.test(s), 'HTTP header name');
const Positive = t.refinement(t.number, (n) => Number.isFinite(n) && n > 0, 'positive number');

const ApiKeyAuth = t.intersection([
  t.type({ type: t.literal('api-key'), keys: t.array(Secret) }),
  t.partial({ header: HeaderName }),
]);
const HmacAuth = t.intersection([
  t.type({ type: t.literal('hmac-sha256'), secrets: t.array(Secret) }),
  t.partial({ signatureHeader: HeaderName, timestampHeader: HeaderName, toleranceSeconds: Positive }),
]);
const Pull = t.intersection([
  t.type({ url: t.string }),
  t.partial({ intervalMs: Positive, headers: t.record(t.string, t.string), cursorParam: t.string, cursorField: t.string }),
]);
/** Push authentication as configured (also the site meters', services/site-meters/sites.ts). */
export const PushAuthCodec = t.union([ApiKeyAuth, HmacAuth]);
const ShapeCodec = t.keyof(Object.fromEntries(Object.keys(adapters).map((k) => [k, null])) as Record<Shape, null>);
const ProviderCodec = t.intersection([t.type({ shape: ShapeCodec }), t.partial({ push: PushAuthCodec, pull: Pull })]);
/** Provider names are checked separately: io-ts drops record keys that fail a refined domain instead of failing. */
export const ProvidersFile = t.type({ providers: t.record(t.string, ProviderCodec) });

export type PushAuth =
  | { readonly type: 'api-key'; readonly header: string; readonly keys: readonly string[] }
  | { readonly type: 'hmac-sha256'; readonly secrets: readonly string[]; readonly signatureHeader: string; readonly timestampHeader: string; readonly toleranceSeconds: number };

export interface PullConfig {
  readonly url: string;
  readonly intervalMs: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly cursorParam: string;
  readonly cursorField: string;
}

export interface ProviderConfig {
  readonly name: string;
  readonly shape: Shape;
  readonly push: PushAuth | null;
  readonly pull: PullConfig | null;
}

export type Providers = ReadonlyMap<string, ProviderConfig>;

export const pushAuthWithDefaults = (p: t.TypeOf<typeof PushAuthCodec>): PushAuth =>
  p.type === 'api-key'
    ? { type: 'api-key', header: (p.header ?? 'x-api-key').toLowerCase(), keys: p.keys }
    : {
        type: 'hmac-sha256',
        secrets: p.secrets,
        signatureHeader: (p.signatureHeader ?? 'x-webhook-signature').toLowerCase(),
        timestampHeader: (p.timestampHeader ?? 'x-webhook-timestamp').toLowerCase(),
        toleranceSeconds: p.toleranceSeconds ?? 300,
      };

const withDefaults = (name: string, p: t.TypeOf<typeof ProviderCodec>): ProviderConfig => ({
  name,
  shape: p.shape,
  push: p.push === undefined ? null : pushAuthWithDefaults(p.push),
  pull:
    p.pull === undefined
      ? null
      : { url: p.pull.url, intervalMs: p.pull.intervalMs ?? 10_000, headers: p.pull.headers ?? {}, cursorParam: p.pull.cursorParam ?? 'fromVersion', cursorField: p.pull.cursorField ?? 'toVersion' },
});

export const decodeProviders = (input: unknown): E.Either<string[], Providers> =>
  pipe(
    decodeWith(ProvidersFile)(input),
    E.chain((f) => {
      const badNames = Object.keys(f.providers).filter((n) => !ProviderName.is(n)).map((n) => `providers.${n}: expected ${ProviderName.name}`);
      return badNames.length ? E.left(badNames) : E.right(f);
    }),
    E.map((f) => new Map(Object.entries(f.providers).map(([name, p]) => [name, withDefaults(name, p)]))),
  );

export const defaultProvidersFile: t.OutputOf<typeof ProvidersFile> = {
  providers: {
    voltstream: { shape: 'voltstream', push: { type: 'api-key', keys: ['dev-telematics-key'] } },
    'webhook-demo': { shape: 'consumer-car', push: { type: 'hmac-sha256', secrets: ['dev-webhook-secret'] } },
    'fleet-demo': { shape: 'fleet-diagnostics', push: { type: 'api-key', keys: ['dev-fleet-key'] } },
    'pull-demo': { shape: 'fleet-diagnostics', pull: { url: 'http://127.0.0.1:8084/feed', intervalMs: 10_000 } },
  },
};

/** The providers of TELEMATICS_PROVIDERS_FILE, or the local default when it is unset. */
export const loadProviders = (file: string | undefined): E.Either<string[], Providers> => {
  if (!file) return decodeProviders(defaultProvidersFile);
  return pipe(
    E.tryCatch(
      () => fs.readFileSync(file, 'utf8'),
      (e) => [`TELEMATICS_PROVIDERS_FILE ${file}: ${(e as Error).message}`],
    ),
    E.chain((text) => pipe(parseJson(text), E.mapLeft((m) => [`${file}: ${m}`]))),
    E.chain((json) => pipe(decodeProviders(json), E.mapLeft((ps) => ps.map((p) => `${file}: ${p}`)))),
  );
};
