/** A reusable OCPP overload driver: N chargers, each a third-party OCPP-J client (ocpp-rpc's RPCClient, half 1.6J, half
 *  2.0.1, Basic auth), all connecting at once, retrying a refused upgrade after its Retry-After, then each with one
 *  outstanding CALL in a closed loop (MeterValues, every tenth a Heartbeat). Counts per second: CALLs answered, their
 *  p50/p99, connected chargers, 503s, errors by kind. Used by `voltstream bench overload` and test/gateway/overload.test.ts. */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Kafka } from 'kafkajs';
import { percentile } from '../benchmark';
import { credentialPepper } from '../../../services/common/credential-pepper';
import { hashChargerSecret, hashSecret } from '../../../services/common/password';
import { TopicSerde } from '../../../schemas/registry';
import { configKey, configToAvro, ConfigBody } from '../../../schemas/fleet-config';
import { Topics } from '../../../schemas/topics';

interface RpcClient {
  connect(): Promise<unknown>;
  call(method: string, params: unknown): Promise<unknown>;
  close(o?: { force?: boolean; code?: number }): Promise<unknown>;
  on(event: string, fn: (...args: unknown[]) => void): void;
}
const { RPCClient } = require('ocpp-rpc') as { RPCClient: new (o: unknown) => RpcClient };

export type OcppVersion = 'ocpp1.6' | 'ocpp2.0.1';

export interface Charger {
  readonly id: string;
  readonly password: string;
  readonly passwordHash: string;
  readonly protocol: OcppVersion;
}

/** Credentials of n chargers, each with its own password hash, stored as the API stores them: `hmac-sha256` under the
 *  credential pepper of `home` (the default), or `scrypt` as before 2026-12-07, so that a handshake costs what it
 *  costs in production. scrypt hashes take about 35 ms of a core each: kept in `home` and reused by later runs (ids
 *  are fresh every run, only the secret/hash pairs are reused). */
export const chargers = async (n: number, prefix: string, home: string, scheme: PasswordScheme = 'hmac-sha256'): Promise<Charger[]> => {
  const pairs = scheme === 'scrypt' ? await scryptPairs(n, home) : hmacPairs(n, credentialPepper(home));
  return pairs.map((p, i) => ({ id: `${prefix}-${i}`, password: p.password, passwordHash: p.hash, protocol: i % 2 === 0 ? 'ocpp1.6' : 'ocpp2.0.1' }));
};

export type PasswordScheme = 'hmac-sha256' | 'scrypt';

type Pair = { password: string; hash: string };

const hmacPairs = (n: number, pepper: Buffer): Pair[] =>
  Array.from({ length: n }, () => {
    const password = randomUUID();
    return { password, hash: hashChargerSecret(password, pepper) };
  });

const scryptPairs = async (n: number, cacheDir: string): Promise<Pair[]> => {
  const file = path.join(cacheDir, 'overload-credentials.json');
  let pairs: Pair[] = [];
  try {
    pairs = JSON.parse(fs.readFileSync(file, 'utf8')) as Pair[];
  } catch {
    pairs = [];
  }
  if (pairs.length < n) {
    const more = await Promise.all(
      Array.from({ length: n - pairs.length }, async () => {
        const password = randomUUID();
        return { password, hash: await hashSecret(password) };
      }),
    );
    pairs = [...pairs, ...more];
    fs.mkdirSync(cacheDir, { recursive: true });
    fs.writeFileSync(file, JSON.stringify(pairs), { mode: 0o600 });
  }
  return pairs.slice(0, n);
};

/** Registers the chargers on fleet.config, as services/api does for PUT /api/v1/chargers/{id}. */
export const registerChargers = async (kafka: Kafka, serde: TopicSerde, list: readonly Charger[], siteId: string): Promise<void> => {
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < list.length; i += 1000) {
      const messages = [];
      for (const c of list.slice(i, i + 1000)) {
        const body: ConfigBody = { type: 'ChargerConfigured', chargePointId: c.id, siteId, maxPowerKw: 22, securityProfile: 1, passwordHash: c.passwordHash, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 };
        messages.push({ key: configKey(body), value: await serde.encode(Topics.fleetConfig, configToAvro({ eventId: randomUUID(), at: Date.now(), actor: 'bench-overload', body })) });
      }
      await producer.send({ topic: Topics.fleetConfig, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
};

const meterValues = (v16: boolean, n: number) =>
  v16
    ? { connectorId: 1, meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: String(n), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }] }
    : { evseId: 1, meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: n, measurand: 'Energy.Active.Import.Register' }] }] };

const boot = (v16: boolean) => (v16 ? { chargePointVendor: 'Overload', chargePointModel: 'O1' } : { reason: 'PowerUp', chargingStation: { model: 'O2', vendorName: 'Overload' } });

export interface Second {
  /** Seconds since the burst started. */
  readonly at: number;
  readonly calls: number;
  readonly p50: number;
  readonly p99: number;
  readonly connected: number;
  readonly refused503: number;
  readonly errors: number;
}

export interface BurstReport {
  readonly seconds: Second[];
  /** How long the closed loop ran (s). */
  readonly elapsed: number;
  readonly chargers: number;
  /** Connected when the run ended. */
  readonly connected: number;
  /** Seconds from the start until the last charger connected (undefined: not all did). */
  readonly allConnectedAfter: number | undefined;
  readonly refused503: number;
  /** Errors by kind; a 503 with Retry-After is not an error, one without is. */
  readonly errors: Readonly<Record<string, number>>;
  readonly calls: number;
  /** All CALL latencies (ms), sorted. */
  readonly latencies: readonly number[];
  /** Retry-After values seen (s), for the jitter. */
  readonly retryAfters: readonly number[];
}

export interface RateReport {
  readonly rate: number;
  readonly sent: number;
  readonly answered: number;
  readonly achieved: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly errors: Readonly<Record<string, number>>;
}

interface Live {
  readonly charger: Charger;
  client: RpcClient | undefined;
  busy: boolean;
  k: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Driver {
  /** All chargers connect at once and run their closed loop for `seconds`, or longer until all are connected when
   *  `untilConnectedMaxS` is given (at most that long); `onSecond` sees each second's figures. */
  burst(seconds: number, onSecond?: (s: Second) => void, untilConnectedMaxS?: number): Promise<BurstReport>;
  /** Open loop at `rate` CALLs/s over the connected chargers that are idle, for `seconds`. */
  fixedRate(rate: number, seconds: number): Promise<RateReport>;
  connected(): number;
  close(): Promise<void>;
}

export const createDriver = (endpoint: string, list: readonly Charger[], opts: { callTimeoutMs?: number; handshakeTimeoutMs?: number } = {}): Driver => {
  const live: Live[] = list.map((charger) => ({ charger, client: undefined, busy: false, k: 0 }));
  const errors: Record<string, number> = {};
  const error = (kind: string) => (errors[kind] = (errors[kind] ?? 0) + 1);
  let stopped = false;
  let running = false;
  let refused503 = 0;
  const retryAfters: number[] = [];
  let connectedNow = 0;

  /** Connects one charger, retrying until it is in or the run stops. A 503 with Retry-After waits that long. */
  const connect = async (l: Live): Promise<void> => {
    let backoff = 1000;
    while (!stopped) {
      const v16 = l.charger.protocol === 'ocpp1.6';
      const c = new RPCClient({ endpoint, identity: l.charger.id, password: l.charger.password, protocols: [l.charger.protocol], strictMode: false, reconnect: false, callTimeoutMs: opts.callTimeoutMs ?? 60000, pingIntervalMs: 0, wsOpts: { handshakeTimeout: opts.handshakeTimeoutMs ?? 60000 } });
      try {
        await c.connect();
        c.on('close', () => {
          if (l.client === c) {
            l.client = undefined;
            connectedNow--;
            if (!stopped) {
              error('disconnected');
              void connect(l);
            }
          }
        });
        l.client = c;
        connectedNow++;
        await c.call('BootNotification', boot(v16));
        return;
      } catch (e) {
        const err = e as Error & { code?: number | string; response?: { headers: Record<string, string | undefined> } };
        if (l.client === c) {
          error(`boot ${(e as { rpcErrorCode?: string }).rpcErrorCode ?? err.message}`);
          return;
        }
        if (err.code === 503) {
          const ra = Number(err.response?.headers['retry-after']);
          if (Number.isFinite(ra) && ra > 0) {
            refused503++;
            retryAfters.push(ra);
            await sleep(ra * 1000);
            continue;
          }
          error('http 503 without Retry-After');
        } else error(typeof err.code === 'number' ? `http ${err.code}` : `connect ${err.code ?? err.message}`);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 30000);
      }
    }
  };

  const callOnce = async (l: Live, lat: number[] | undefined, kinds: Record<string, number>): Promise<void> => {
    const c = l.client!;
    const v16 = l.charger.protocol === 'ocpp1.6';
    l.busy = true;
    const t = performance.now();
    try {
      await (++l.k % 10 === 0 ? c.call('Heartbeat', {}) : c.call('MeterValues', meterValues(v16, l.k)));
      lat?.push(performance.now() - t);
    } catch (e) {
      const err = e as Error & { rpcErrorCode?: string };
      const kind = `call ${err.rpcErrorCode ?? err.message}`;
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    } finally {
      l.busy = false;
    }
  };

  return {
    connected: () => connectedNow,
    burst: async (seconds, onSecond, untilConnectedMaxS) => {
      running = true;
      const t0 = performance.now();
      const perSecond: number[][] = [];
      const all: number[] = [];
      let allConnectedAfter: number | undefined;
      const bucket = () => {
        const s = Math.floor((performance.now() - t0) / 1000);
        return (perSecond[s] ??= []);
      };
      const loops = live.map(async (l) => {
        await connect(l);
        if (connectedNow === live.length && allConnectedAfter === undefined) allConnectedAfter = (performance.now() - t0) / 1000;
        while (running && !stopped) {
          if (!l.client) {
            await sleep(100);
            continue;
          }
          const lat: number[] = [];
          await callOnce(l, lat, errors);
          if (lat.length) {
            bucket().push(lat[0]!);
            all.push(lat[0]!);
          }
        }
      });
      const seconds_: Second[] = [];
      let last503 = 0;
      let lastErrors = 0;
      const totalErrors = () => Object.values(errors).reduce((a, b) => a + b, 0);
      const ticker = setInterval(() => {
        const s = Math.floor((performance.now() - t0) / 1000) - 1;
        if (s < 0 || seconds_.length > s) return;
        const lat = (perSecond[s] ?? []).slice().sort((a, b) => a - b);
        const e = totalErrors();
        const sec: Second = { at: s, calls: lat.length, p50: percentile(lat, 50), p99: percentile(lat, 99), connected: connectedNow, refused503: refused503 - last503, errors: e - lastErrors };
        last503 = refused503;
        lastErrors = e;
        seconds_.push(sec);
        onSecond?.(sec);
      }, 100);
      await sleep(seconds * 1000);
      while (untilConnectedMaxS !== undefined && allConnectedAfter === undefined && performance.now() - t0 < untilConnectedMaxS * 1000) await sleep(250);
      const elapsed = (performance.now() - t0) / 1000;
      running = false;
      clearInterval(ticker);
      // Chargers still waiting to connect stop trying; those connected finish their outstanding CALL.
      const stragglers = live.filter((l) => !l.client).length;
      if (stragglers) stopped = true;
      await Promise.all(loops);
      all.sort((a, b) => a - b);
      return { seconds: seconds_, elapsed, chargers: live.length, connected: connectedNow, allConnectedAfter, refused503, errors: { ...errors }, calls: all.length, latencies: all, retryAfters };
    },
    fixedRate: async (rate, seconds) => {
      const lat: number[] = [];
      const kinds: Record<string, number> = {};
      const inflight: Promise<void>[] = [];
      let sent = 0;
      let cursor = 0;
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        const tick = setInterval(() => {
          const elapsed = performance.now() - t0;
          if (elapsed > seconds * 1000) {
            clearInterval(tick);
            resolve();
            return;
          }
          const due = Math.floor((elapsed / 1000) * rate) - sent;
          for (let j = 0; j < due; j++) {
            let tries = 0;
            while ((live[cursor % live.length]!.busy || !live[cursor % live.length]!.client) && tries++ < live.length) cursor++;
            const l = live[cursor++ % live.length]!;
            sent++;
            if (!l.client || l.busy) {
              kinds['no idle charger'] = (kinds['no idle charger'] ?? 0) + 1;
              continue;
            }
            inflight.push(callOnce(l, lat, kinds));
          }
        }, 5);
      });
      await Promise.all(inflight);
      lat.sort((a, b) => a - b);
      return { rate, sent, answered: lat.length, achieved: lat.length / seconds, p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat[lat.length - 1] ?? NaN, errors: kinds };
    },
    close: async () => {
      stopped = true;
      running = false;
      const open = live.filter((l) => l.client);
      for (let i = 0; i < open.length; i += 200) {
        await Promise.all(
          open.slice(i, i + 200).map(async (l) => {
            const c = l.client;
            l.client = undefined;
            await c?.close({ force: true }).catch(() => undefined);
          }),
        );
      }
    },
  };
};

/** Plain-text summary of a burst: throughput peak, the lowest second once all were connected, and the spread. */
export const summarizeBurst = (r: BurstReport): { peak: number; minAfterConnected: number | undefined; p50: number; p99: number } => {
  const peak = Math.max(0, ...r.seconds.map((s) => s.calls));
  const after = r.allConnectedAfter === undefined ? [] : r.seconds.filter((s) => s.at >= Math.ceil(r.allConnectedAfter!));
  return { peak, minAfterConnected: after.length ? Math.min(...after.map((s) => s.calls)) : undefined, p50: percentile(r.latencies, 50), p99: percentile(r.latencies, 99) };
};
