/**
 * Gateway settings beyond services/common/config.ts (OCPP_PORT, GATEWAY_ID come from there).
 *
 * Environment variables (all optional):
 *   OCPP_TLS_PORT              port of the TLS listener (wss://), for security profiles 2 and 3; unset: no TLS listener
 *   OCPP_TLS_CERT              PEM file: the gateway's server certificate (chain)
 *   OCPP_TLS_KEY               PEM file: its private key
 *   OCPP_TLS_CA                PEM file: CA(s) that sign charger client certificates (profile 3); required while the
 *                              TLS listener serves profile 3: the gateway refuses to start without it
 *   OCPP_READ_DEVICE_MODEL_ON_BOOT  `on`: after accepting a BootNotification, read the charger's configuration (GetConfiguration /
 *                              GetBaseReport) into the device model; default off
 *   OCPP_TLS_PROFILE3          `on` (default): the TLS listener asks for client certificates and serves profile 3;
 *                              `off`: profile 2 only (profile-3 chargers are refused with 403), no CA needed
 *   OCPP_TLS_CRL               PEM or DER file of certificate revocation lists signed by a CA of OCPP_TLS_CA; a
 *                              revoked certificate is refused at the handshake, and a connection whose certificate a
 *                              new list revokes is closed (1008)
 *   OCPP_TLS_CRL_CHECK_S       how often the CRL file is checked for changes and read again (default 10)
 *   OCPP_MAX_FRAME_BYTES       largest frame answered normally (default 65536); larger ones get a CALLERROR, and frames
 *                              over 4x this value close the connection with 1009 (Message Too Big)
 *   OCPP_RATE_PER_SEC          sustained frames per second per connection (default 20)
 *   OCPP_RATE_BURST            token bucket size per connection (default 60)
 *   OCPP_HEARTBEAT_INTERVAL_S  interval handed out in BootNotification answers (default 300)
 *   OCPP_CALL_TIMEOUT_MS       how long an outbound CALL (command) waits for the charger's answer (default 30000)
 *   OCPP_PING_INTERVAL_S       WebSocket ping to every charger; no pong by the next ping closes the connection (default 60, 0: off)
 *   OCPP_BATCH_MS              how long frames of all chargers are collected into one produce request (default 2)
 *   OCPP_BATCH_MAX             largest number of records in one produce request (default 2000)
 *   OCPP_KAFKA_FAILOVER_MS     how long a produce request that failed (its partition's leader died or went silent) is
 *                              sent again before its frames are refused with InternalError (default 25000: leaders
 *                              moved 8-15 s after a broker died or froze on the test cluster, where brokers are fenced
 *                              after 9 s, and the producer saw the new leader up to 6 s later); each ocpp.frames
 *                              partition has a producer of its own, so only that partition's chargers wait
 *   OCPP_KAFKA_REQUEST_TIMEOUT_MS  how long the gateway's producers wait for a broker's answer before sending again
 *                              (default 3000), so a frozen broker fails requests instead of holding them
 *   OCPP_INTERNAL_HOST         bind address of the internal listener (forwarded commands), never the charger-facing
 *                              port (default 127.0.0.1)
 *   OCPP_INTERNAL_PORT         its port (default 0: any free port; the URL is published in the connections table)
 *   OCPP_INTERNAL_URL          URL other gateway instances use to reach the internal listener, stored in `connections`
 *                              (default http://<OCPP_INTERNAL_HOST>:<port>)
 *   OCPP_INTERNAL_TOKEN        bearer token instances present to each other; unset: one random token generated once
 *                              and kept in $VOLTSTREAM_HOME/gateway-internal-token (mode 0600), shared by local instances
 *   OCPP_HANDSHAKE_CONCURRENCY handshakes (fleet lookup, password check, claim) worked on at once (default 64: they
 *                              mostly wait on I/O; with 2 at once a burst of 1,000 chargers took minutes to get in)
 *   OCPP_PASSWORD_CHECKS       scrypt password checks run at once, inside those (default: the cores, at most half of
 *                              the libuv pool scrypt runs in, so other users of the pool never wait for a burst)
 *   OCPP_HANDSHAKE_QUEUE       handshakes waiting for a slot; beyond it the upgrade gets 503 + Retry-After (default
 *                              128, a few seconds of handshakes on 2 cores)
 *   OCPP_HANDSHAKE_WAIT_S      longest wait for a slot; then 503 + Retry-After too (default 10: chargers give up
 *                              unanswered handshakes after some tens of seconds, and the work done for them is lost)
 *   OCPP_RETRY_AFTER_S         Retry-After of a 503, jittered uniformly over [value, 2 x value] (default 5)
 *   OCPP_MAILBOX_MAX           records of refused frames queued per connection; beyond it a refused frame is still
 *                              answered and in ocpp.rejected, but not in ocpp.frames (default 32)
 *   OCPP_AUTH_CACHE_TTL_S      how long a verified Basic credential skips scrypt (default 300, 0: no cache)
 *   OCPP_FAILED_HANDSHAKES_PER_SOURCE   failed handshakes from one address per minute before it gets 429 + Retry-After
 *                              at once, without a password check (default 100: a depot behind one NAT address shares it)
 *   OCPP_FAILED_HANDSHAKES_PER_CHARGER  the same per charge point id, from any address (default 10)
 *   OCPP_DB_SCHEMA             PostgreSQL schema of the gateway's tables (default gateway)
 *   OCPP_COMMANDS_FOR          `all` (default): every ocpp.commands record gets an outcome from this deployment, OFFLINE
 *                              for a charger it never saw; `known`: only commands for chargers that have a row in this
 *                              deployment's `connections` (connected to it at least once) are taken, the others are left
 *                              to the deployment that serves them. For a second deployment on a shared broker (a
 *                              development stack beside the tests), whose OFFLINE would race the holder's answer; a
 *                              command for a charger no deployment ever saw then gets no outcome, so never by default
 */
import { availableParallelism } from 'node:os';
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
  OCPP_TLS_PROFILE3: t.keyof({ on: null, off: null }),
  OCPP_READ_DEVICE_MODEL_ON_BOOT: t.keyof({ on: null, off: null }),
  OCPP_TLS_CRL: t.string,
  OCPP_TLS_CRL_CHECK_S: IntFromString,
  OCPP_MAX_FRAME_BYTES: IntFromString,
  OCPP_RATE_PER_SEC: IntFromString,
  OCPP_RATE_BURST: IntFromString,
  OCPP_HEARTBEAT_INTERVAL_S: IntFromString,
  OCPP_CALL_TIMEOUT_MS: IntFromString,
  OCPP_PING_INTERVAL_S: IntFromString,
  OCPP_BATCH_MS: IntFromString,
  OCPP_BATCH_MAX: IntFromString,
  OCPP_KAFKA_FAILOVER_MS: IntFromString,
  OCPP_KAFKA_REQUEST_TIMEOUT_MS: IntFromString,
  OCPP_INTERNAL_URL: t.string,
  OCPP_DB_SCHEMA: t.string,
  OCPP_INTERNAL_TOKEN: t.string,
  OCPP_INTERNAL_HOST: t.string,
  OCPP_INTERNAL_PORT: IntFromString,
  OCPP_HANDSHAKE_CONCURRENCY: IntFromString,
  OCPP_HANDSHAKE_QUEUE: IntFromString,
  OCPP_PASSWORD_CHECKS: IntFromString,
  OCPP_HANDSHAKE_WAIT_S: IntFromString,
  OCPP_RETRY_AFTER_S: IntFromString,
  OCPP_MAILBOX_MAX: IntFromString,
  OCPP_AUTH_CACHE_TTL_S: IntFromString,
  OCPP_FAILED_HANDSHAKES_PER_SOURCE: IntFromString,
  OCPP_FAILED_HANDSHAKES_PER_CHARGER: IntFromString,
  OCPP_COMMANDS_FOR: t.keyof({ all: null, known: null }),
});

export interface TlsSettings {
  readonly port: number;
  readonly cert: string;
  readonly key: string;
  readonly ca: string | undefined;
  /** Whether the listener serves security profile 3 (client certificates; needs `ca`). Default true. */
  readonly profile3?: boolean;
  /** CRL file (PEM or DER). */
  readonly crl?: string;
  readonly crlCheckS?: number;
}

/** Why these TLS settings cannot start a listener, if they cannot: profile 3 without a CA bundle would take any
 *  certificate a public CA signed, or none. */
export const tlsProblem = (tls: TlsSettings | undefined): string | undefined => {
  if (!tls || tls.profile3 === false) return undefined;
  if (!tls.ca)
    return 'the TLS listener (OCPP_TLS_PORT) serves security profile 3 (client certificates) and needs OCPP_TLS_CA, the CA bundle that signs charger certificates; set OCPP_TLS_PROFILE3=off to serve profile 2 only';
  return undefined;
};

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
  /** How long a failed produce request is sent again before its frames are refused. */
  readonly kafkaFailoverMs: number;
  readonly kafkaRequestTimeoutMs: number;
  /** undefined: derived from the port the gateway listens on. */
  readonly internalUrl: string | undefined;
  readonly dbSchema: string;
  /** undefined: the one kept under VOLTSTREAM_HOME (internal-token.ts). */
  readonly internalToken: string | undefined;
  readonly internalHost: string;
  readonly internalPort: number;
  /** Handshakes worked on at once (mostly waiting on I/O); their password checks, CPU work, run `passwordChecks` at once. */
  readonly handshakeConcurrency: number;
  readonly passwordChecks: number;
  readonly handshakeQueue: number;
  readonly handshakeWaitS: number;
  readonly retryAfterS: number;
  readonly mailboxMax: number;
  readonly authCacheTtlS: number;
  readonly failedHandshakesPerSource: number;
  readonly failedHandshakesPerCharger: number;
  /** Bytes of a refused frame kept in ocpp.rejected. */
  readonly rejectAuditBytes: number;
  /** After an accepted BootNotification, read the charger's configuration into the device model. */
  readonly readDeviceModelOnBoot: boolean;
  /** 'known': commands for chargers this deployment never saw (no `connections` row) are left alone (OCPP_COMMANDS_FOR). */
  readonly commandsFor: 'all' | 'known';
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
  kafkaFailoverMs: 25000,
  kafkaRequestTimeoutMs: 3000,
  internalUrl: undefined,
  dbSchema: 'gateway',
  internalToken: undefined,
  internalHost: '127.0.0.1',
  internalPort: 0,
  handshakeConcurrency: 64,
  passwordChecks: Math.max(1, Math.min(availableParallelism(), Math.floor(Number(process.env.UV_THREADPOOL_SIZE ?? 4) / 2))),
  handshakeQueue: 128,
  handshakeWaitS: 10,
  retryAfterS: 5,
  mailboxMax: 32,
  authCacheTtlS: 300,
  failedHandshakesPerSource: 100,
  failedHandshakesPerCharger: 10,
  rejectAuditBytes: 8192,
  readDeviceModelOnBoot: false,
  commandsFor: 'all',
};

export const decodeSettings = (env: NodeJS.ProcessEnv): E.Either<string, GatewaySettings> =>
  pipe(
    Env.decode(env),
    E.mapLeft((errors) => `invalid gateway environment: ${formatErrors(errors).join('; ')}`),
    E.chain((e) => {
      const wantsTls = e.OCPP_TLS_PORT !== undefined;
      if (wantsTls && (!e.OCPP_TLS_CERT || !e.OCPP_TLS_KEY)) return E.left('OCPP_TLS_PORT needs OCPP_TLS_CERT and OCPP_TLS_KEY');
      const tls: TlsSettings | undefined = wantsTls
        ? { port: e.OCPP_TLS_PORT!, cert: e.OCPP_TLS_CERT!, key: e.OCPP_TLS_KEY!, ca: e.OCPP_TLS_CA, profile3: e.OCPP_TLS_PROFILE3 !== 'off', crl: e.OCPP_TLS_CRL, crlCheckS: Math.max(1, e.OCPP_TLS_CRL_CHECK_S ?? 10) }
        : undefined;
      const problem = tlsProblem(tls);
      if (problem) return E.left(problem);
      return E.right<string, GatewaySettings>({
        tls,
        maxFrameBytes: e.OCPP_MAX_FRAME_BYTES ?? defaultSettings.maxFrameBytes,
        ratePerSec: e.OCPP_RATE_PER_SEC ?? defaultSettings.ratePerSec,
        rateBurst: e.OCPP_RATE_BURST ?? defaultSettings.rateBurst,
        heartbeatIntervalS: e.OCPP_HEARTBEAT_INTERVAL_S ?? defaultSettings.heartbeatIntervalS,
        callTimeoutMs: e.OCPP_CALL_TIMEOUT_MS ?? defaultSettings.callTimeoutMs,
        pingIntervalS: e.OCPP_PING_INTERVAL_S ?? defaultSettings.pingIntervalS,
        batchMs: e.OCPP_BATCH_MS ?? defaultSettings.batchMs,
        batchMax: e.OCPP_BATCH_MAX ?? defaultSettings.batchMax,
        kafkaFailoverMs: e.OCPP_KAFKA_FAILOVER_MS ?? defaultSettings.kafkaFailoverMs,
        kafkaRequestTimeoutMs: Math.max(1000, e.OCPP_KAFKA_REQUEST_TIMEOUT_MS ?? defaultSettings.kafkaRequestTimeoutMs),
        internalUrl: e.OCPP_INTERNAL_URL,
        dbSchema: e.OCPP_DB_SCHEMA ?? defaultSettings.dbSchema,
        internalToken: e.OCPP_INTERNAL_TOKEN || undefined,
        internalHost: e.OCPP_INTERNAL_HOST || defaultSettings.internalHost,
        internalPort: e.OCPP_INTERNAL_PORT ?? defaultSettings.internalPort,
        handshakeConcurrency: Math.max(1, e.OCPP_HANDSHAKE_CONCURRENCY ?? defaultSettings.handshakeConcurrency),
        passwordChecks: Math.max(1, e.OCPP_PASSWORD_CHECKS ?? defaultSettings.passwordChecks),
        handshakeQueue: e.OCPP_HANDSHAKE_QUEUE ?? defaultSettings.handshakeQueue,
        handshakeWaitS: Math.max(1, e.OCPP_HANDSHAKE_WAIT_S ?? defaultSettings.handshakeWaitS),
        retryAfterS: Math.max(1, e.OCPP_RETRY_AFTER_S ?? defaultSettings.retryAfterS),
        mailboxMax: Math.max(1, e.OCPP_MAILBOX_MAX ?? defaultSettings.mailboxMax),
        authCacheTtlS: e.OCPP_AUTH_CACHE_TTL_S ?? defaultSettings.authCacheTtlS,
        failedHandshakesPerSource: Math.max(1, e.OCPP_FAILED_HANDSHAKES_PER_SOURCE ?? defaultSettings.failedHandshakesPerSource),
        failedHandshakesPerCharger: Math.max(1, e.OCPP_FAILED_HANDSHAKES_PER_CHARGER ?? defaultSettings.failedHandshakesPerCharger),
        rejectAuditBytes: defaultSettings.rejectAuditBytes,
        readDeviceModelOnBoot: e.OCPP_READ_DEVICE_MODEL_ON_BOOT === 'on',
        commandsFor: e.OCPP_COMMANDS_FOR ?? defaultSettings.commandsFor,
      });
    }),
  );
