/**
 * Gateway settings beyond services/common/config.ts (OCPP_PORT, GATEWAY_ID come from there).
 *
 * Environment variables (all optional):
 *   OCPP_TLS_PORT              port of the TLS listener (wss://), for security profiles 2 and 3; unset: no TLS listener
 *   OCPP_TLS_CERT              PEM file: the gateway's server certificate (chain)
 *   OCPP_TLS_KEY               PEM file: its private key
 *   OCPP_TLS_CA                PEM file: CA(s) that sign charger client certificates (profile 3)
 *   OCPP_MAX_FRAME_BYTES       largest frame answered normally (default 65536); larger ones get a CALLERROR, and frames
 *                              over 4x this value close the connection with 1009 (Message Too Big)
 *   OCPP_RATE_PER_SEC          sustained frames per second per connection (default 20)
 *   OCPP_RATE_BURST            token bucket size per connection (default 60)
 *   OCPP_HEARTBEAT_INTERVAL_S  interval handed out in BootNotification answers (default 300)
 *   OCPP_CALL_TIMEOUT_MS       how long an outbound CALL (command) waits for the charger's answer (default 30000)
 *   OCPP_PING_INTERVAL_S       WebSocket ping to every charger; no pong by the next ping closes the connection (default 60, 0: off)
 *   OCPP_BATCH_MS              how long frames of all chargers are collected into one produce request (default 2)
 *   OCPP_BATCH_MAX             largest number of records in one produce request (default 2000)
 *   OCPP_KAFKA_LANES           idempotent producers sending in parallel, each owning partitions p % lanes (default 1)
 *   OCPP_INTERNAL_URL          URL other gateway instances use to forward commands to this one
 *                              (default http://127.0.0.1:<OCPP_PORT>)
 *   OCPP_INTERNAL_TOKEN        when set, instances must present it (Authorization: Bearer) to forward commands to each other
 *   OCPP_DB_SCHEMA             PostgreSQL schema of the gateway's tables (default gateway)
 */
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { formatErrors } from '../common/decode';

const IntFromString = new t.Type<number, string, unknown>(
  'IntFromString',
  (u): u is number => typeof u === 'number',
  (u, c) => (typeof u === 'string' && /^\d+$/.test(u.trim()) ? t.success(Number(u)) : t.failure(u, c, 'expected a whole number')),
  String,
);

const Env = t.partial({
  OCPP_TLS_PORT: IntFromString,
  OCPP_TLS_CERT: t.string,
  OCPP_TLS_KEY: t.string,
  OCPP_TLS_CA: t.string,
  OCPP_MAX_FRAME_BYTES: IntFromString,
  OCPP_RATE_PER_SEC: IntFromString,
  OCPP_RATE_BURST: IntFromString,
  OCPP_HEARTBEAT_INTERVAL_S: IntFromString,
  OCPP_CALL_TIMEOUT_MS: IntFromString,
  OCPP_PING_INTERVAL_S: IntFromString,
  OCPP_BATCH_MS: IntFromString,
  OCPP_BATCH_MAX: IntFromString,
  OCPP_KAFKA_LANES: IntFromString,
  OCPP_INTERNAL_URL: t.string,
  OCPP_DB_SCHEMA: t.string,
  OCPP_INTERNAL_TOKEN: t.string,
});

export interface TlsSettings {
  readonly port: number;
  readonly cert: string;
  readonly key: string;
  readonly ca: string | undefined;
}

export interface GatewaySettings {
  readonly tls: TlsSettings | undefined;
  readonly maxFrameBytes: number;
  readonly ratePerSec: number;
  readonly rateBurst: number;
  readonly heartbeatIntervalS: number;
  readonly callTimeoutMs: number;
  readonly pingIntervalS: number;
  readonly batchMs: number;
  readonly batchMax: number;
  readonly kafkaLanes: number;
  /** undefined: derived from the port the gateway listens on. */
  readonly internalUrl: string | undefined;
  readonly dbSchema: string;
  readonly internalToken: string | undefined;
  /** Bytes of a refused frame kept in ocpp.rejected. */
  readonly rejectAuditBytes: number;
}

export const defaultSettings: GatewaySettings = {
  tls: undefined,
  maxFrameBytes: 65536,
  ratePerSec: 20,
  rateBurst: 60,
  heartbeatIntervalS: 300,
  callTimeoutMs: 30000,
  pingIntervalS: 60,
  batchMs: 2,
  batchMax: 2000,
  kafkaLanes: 1,
  internalUrl: undefined,
  dbSchema: 'gateway',
  internalToken: undefined,
  rejectAuditBytes: 8192,
};

export const decodeSettings = (env: NodeJS.ProcessEnv): E.Either<string, GatewaySettings> =>
  pipe(
    Env.decode(env),
    E.mapLeft((errors) => `invalid gateway environment: ${formatErrors(errors).join('; ')}`),
    E.chain((e) => {
      const wantsTls = e.OCPP_TLS_PORT !== undefined;
      if (wantsTls && (!e.OCPP_TLS_CERT || !e.OCPP_TLS_KEY)) return E.left('OCPP_TLS_PORT needs OCPP_TLS_CERT and OCPP_TLS_KEY');
      return E.right<string, GatewaySettings>({
        tls: wantsTls ? { port: e.OCPP_TLS_PORT!, cert: e.OCPP_TLS_CERT!, key: e.OCPP_TLS_KEY!, ca: e.OCPP_TLS_CA } : undefined,
        maxFrameBytes: e.OCPP_MAX_FRAME_BYTES ?? defaultSettings.maxFrameBytes,
        ratePerSec: e.OCPP_RATE_PER_SEC ?? defaultSettings.ratePerSec,
        rateBurst: e.OCPP_RATE_BURST ?? defaultSettings.rateBurst,
        heartbeatIntervalS: e.OCPP_HEARTBEAT_INTERVAL_S ?? defaultSettings.heartbeatIntervalS,
        callTimeoutMs: e.OCPP_CALL_TIMEOUT_MS ?? defaultSettings.callTimeoutMs,
        pingIntervalS: e.OCPP_PING_INTERVAL_S ?? defaultSettings.pingIntervalS,
        batchMs: e.OCPP_BATCH_MS ?? defaultSettings.batchMs,
        batchMax: e.OCPP_BATCH_MAX ?? defaultSettings.batchMax,
        kafkaLanes: Math.max(1, e.OCPP_KAFKA_LANES ?? defaultSettings.kafkaLanes),
        internalUrl: e.OCPP_INTERNAL_URL,
        dbSchema: e.OCPP_DB_SCHEMA ?? defaultSettings.dbSchema,
        internalToken: e.OCPP_INTERNAL_TOKEN || undefined,
        rejectAuditBytes: defaultSettings.rejectAuditBytes,
      });
    }),
  );
