import * as fs from 'node:fs';
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { decodeWith, parseJson } from '../common/decode';
import { MeterRole, MeterRoleCodec } from '../../schemas/site-meter-record';
import { PushAuth, PushAuthCodec, pushAuthWithDefaults } from '../telematics-ingest/providers';
import { Register, RegisterCodec, registerWithDefaults } from './register-map';

/** The site meters: per site, who may push its readings (authenticated like a telematics provider: API key or
 *  HMAC-SHA256 webhook signature, services/telematics-ingest/auth.ts) and its meters, each with its role, its panel
 *  (sub-meters), plausibility bounds and, for a meter that is polled, its Modbus TCP register map.
 *  Read from the JSON file named by SITE_METERS_FILE, else the local default below.
 *
 *  File format:
 *  { "sites": { "<siteId>": {
 *      "push"?: { "type": "api-key", "keys": ["<key>" | "sha256:<hex>"], "header"?: "x-api-key" }
 *             | { "type": "hmac-sha256", "secrets": ["..."], "signatureHeader"?, "timestampHeader"?, "toleranceSeconds"? },
 *      "meters": { "<meterId>": { "role": "connection" | "submeter", "panelId"?: "...", "maxKw"?: 10000, "maxA"?: 5000,
 *          "modbus"?: { "host": "...", "port"?: 502, "unitId"?: 1, "registerKind"?: "holding" | "input",
 *                       "registers": [{ "quantity": "importKw" | "l1A" | "l2A" | "l3A" | "voltageV", "address": 0,
 *                                       "type": "int16" | "uint16" | "int32" | "uint32" | "float32",
 *                                       "wordOrder"?: "big" | "little", "scale"?: 1 }] } } } } },
 *    "modbus"?: { "intervalMs"?: 5000, "timeoutMs"?: 2000 } }
 *  A Modbus meter must map importKw. At most one connection meter per site.
 *
 *  LOCAL DEFAULT (well-known development credentials; never outside a laptop): site `depot-1`, meter `grid`
 *  (connection), pushed with `X-Api-Key: dev-site-meter-key`; nothing polled. */
const Id = t.refinement(t.string, (s) => /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/.test(s), 'id ([A-Za-z0-9_.:-], at most 64)');
const Positive = t.refinement(t.number, (n) => Number.isFinite(n) && n > 0, 'positive number');
const Port = t.refinement(t.number, (n) => Number.isInteger(n) && n > 0 && n < 65536, 'TCP port');
const UnitId = t.refinement(t.number, (n) => Number.isInteger(n) && n >= 0 && n <= 255, 'unit id 0–255');

const ModbusCodec = t.intersection([
  t.type({ host: t.string, registers: t.array(RegisterCodec) }),
  t.partial({ port: Port, unitId: UnitId, registerKind: t.keyof({ holding: null, input: null }) }),
]);
const MeterCodec = t.intersection([t.type({ role: MeterRoleCodec }), t.partial({ panelId: Id, maxKw: Positive, maxA: Positive, modbus: ModbusCodec })]);
const SiteCodec = t.intersection([t.type({ meters: t.record(t.string, MeterCodec) }), t.partial({ push: PushAuthCodec })]);
export const SitesFileCodec = t.intersection([
  t.type({ sites: t.record(t.string, SiteCodec) }),
  t.partial({ modbus: t.partial({ intervalMs: Positive, timeoutMs: Positive }) }),
]);

export interface ModbusMeter {
  readonly host: string;
  readonly port: number;
  readonly unitId: number;
  readonly registerKind: 'holding' | 'input';
  readonly registers: readonly Register[];
}

export interface MeterConfig {
  readonly siteId: string;
  readonly meterId: string;
  readonly role: MeterRole;
  readonly panelId: string | null;
  readonly maxKw: number;
  readonly maxA: number;
  readonly modbus: ModbusMeter | null;
}

export interface SiteConfig {
  readonly siteId: string;
  readonly push: PushAuth | null;
  readonly meters: ReadonlyMap<string, MeterConfig>;
}

export interface SiteMeters {
  readonly sites: ReadonlyMap<string, SiteConfig>;
  readonly modbus: { readonly intervalMs: number; readonly timeoutMs: number };
}

export const meterDefaults = { maxKw: 10_000, maxA: 5_000 } as const;

const toSite = (siteId: string, s: t.TypeOf<typeof SiteCodec>): SiteConfig => ({
  siteId,
  push: s.push ? pushAuthWithDefaults(s.push) : null,
  meters: new Map(
    Object.entries(s.meters).map(([meterId, m]) => [
      meterId,
      {
        siteId,
        meterId,
        role: m.role,
        panelId: m.panelId ?? null,
        maxKw: m.maxKw ?? meterDefaults.maxKw,
        maxA: m.maxA ?? meterDefaults.maxA,
        modbus: m.modbus
          ? { host: m.modbus.host, port: m.modbus.port ?? 502, unitId: m.modbus.unitId ?? 1, registerKind: m.modbus.registerKind ?? 'holding', registers: m.modbus.registers.map(registerWithDefaults) }
          : null,
      },
    ]),
  ),
});

/** Problems a codec cannot see: ids, one connection meter, importKw mapped, a sub-meter's panel. */
const problemsOf = (f: t.TypeOf<typeof SitesFileCodec>): string[] =>
  Object.entries(f.sites).flatMap(([siteId, s]) => [
    ...(Id.is(siteId) ? [] : [`sites.${siteId}: expected ${Id.name}`]),
    ...Object.keys(s.meters).filter((m) => !Id.is(m)).map((m) => `sites.${siteId}.meters.${m}: expected ${Id.name}`),
    ...(Object.values(s.meters).filter((m) => m.role === 'connection').length > 1 ? [`sites.${siteId}: more than one connection meter`] : []),
    ...Object.entries(s.meters)
      .filter(([, m]) => m.modbus && !m.modbus.registers.some((r) => r.quantity === 'importKw'))
      .map(([id]) => `sites.${siteId}.meters.${id}.modbus.registers: importKw is not mapped`),
    ...Object.entries(s.meters)
      .filter(([, m]) => m.role === 'connection' && m.panelId !== undefined)
      .map(([id]) => `sites.${siteId}.meters.${id}: a connection meter has no panelId`),
  ]);

export const decodeSiteMeters = (input: unknown): E.Either<string[], SiteMeters> =>
  pipe(
    decodeWith(SitesFileCodec)(input),
    E.chain((f) => {
      const problems = problemsOf(f);
      return problems.length ? E.left(problems) : E.right(f);
    }),
    E.map((f) => ({
      sites: new Map(Object.entries(f.sites).map(([id, s]) => [id, toSite(id, s)])),
      modbus: { intervalMs: f.modbus?.intervalMs ?? 5000, timeoutMs: f.modbus?.timeoutMs ?? 2000 },
    })),
  );

export const defaultSitesFile: t.OutputOf<typeof SitesFileCodec> = {
  sites: { 'depot-1': { push: { type: 'api-key', keys: ['dev-site-meter-key'] }, meters: { grid: { role: 'connection' } } } },
};

export const loadSiteMeters = (file: string | undefined): E.Either<string[], SiteMeters> => {
  if (!file) return decodeSiteMeters(defaultSitesFile);
  return pipe(
    E.tryCatch(
      () => fs.readFileSync(file, 'utf8'),
      (e) => [`SITE_METERS_FILE ${file}: ${(e as Error).message}`],
    ),
    E.chain((text) => pipe(parseJson(text), E.mapLeft((m) => [`${file}: ${m}`]))),
    E.chain((json) => pipe(decodeSiteMeters(json), E.mapLeft((ps) => ps.map((p) => `${file}: ${p}`)))),
  );
};

/** Every meter that is polled over Modbus TCP. */
export const modbusMeters = (s: SiteMeters): MeterConfig[] => [...s.sites.values()].flatMap((site) => [...site.meters.values()].filter((m) => m.modbus !== null));
