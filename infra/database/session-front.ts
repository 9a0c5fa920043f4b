import * as net from 'node:net';
import { randomInt } from 'node:crypto';
import { emptyQueue, LockQueue, release, request } from './lock-queue';
import { fromSnapshot, mayChangeSettings, quoteIdent, SessionSettings, SNAPSHOT_SQL, switchSql } from './session-settings';
import { closedStatement, parseMessage, queryText, scopeNames } from './statement-names';
import { afterAnswer, holdsDatabase, lastReadyStatus, TransactionState } from './transaction-state';
import {
  authenticationOk, backendKeyData, dataRows, ErrorFields, errorResponse, firstError, parameterStatus, readyForQuery,
  simpleQuery, sslRefused, sync,
} from './wire-backend';
import {
  callsForPglite, CANCEL_REQUEST, createFrontendFramer, expectsReadyForQuery, FrontendMessage, GSSENC_REQUEST, parseStartupOptions, PROTOCOL_3, SSL_REQUEST, startupParameters,
} from './wire-framing';

/** What the front needs of PGlite: one backend that takes whole protocol messages and answers them. */
export interface ProtocolEngine {
  execProtocolRaw(message: Uint8Array): Promise<Uint8Array>;
}

export interface SessionFrontOptions {
  readonly db: ProtocolEngine;
  readonly port: number;
  readonly host: string;
  /** A session that holds PGlite inside a transaction and sends nothing for this long is terminated and rolled
   *  back, as PostgreSQL's idle_in_transaction_session_timeout does. */
  readonly idleInTransactionTimeoutMs: number;
  /** Sessions whose startup application_name is one of these wait ahead of the others (lock-queue.ts); default
   *  URGENT_APPLICATIONS. */
  readonly urgentApplications?: readonly string[];
  /** Told of every hold of PGlite longer than `longHoldMs` (default 2 s): every other session waited that long. */
  readonly onLongHold?: (hold: LongHold) => void;
  readonly longHoldMs?: number;
  /** Told when PGlite left part of a request unanswered (no ReadyForQuery after a Sync or Query): the session's
   *  transaction is rolled back and its connection closed with an error, so the client retries at once instead of
   *  waiting, holding every other session, until the idle-in-transaction timeout. */
  readonly onUnanswered?: (lost: UnansweredRequest) => void;
}

export interface UnansweredRequest {
  readonly session: number;
  readonly application: string;
  /** The call's message types and sizes, e.g. `P:120 B:65411 D:6 E:9 S:4`. */
  readonly messages: string;
  /** The session's statements in this hold (200 characters), and the SQL of the call left unanswered (300). */
  readonly statement: string;
  readonly query: string;
}

export interface LongHold {
  readonly session: number;
  readonly application: string;
  readonly heldMs: number;
  /** The statements of the hold, from its first, cut to 200 characters. */
  readonly statement: string;
  /** Sessions waiting for PGlite when it was given back. */
  readonly waiting: number;
  /** Of heldMs, how long PGlite waited for the client's next message since its last answer: near heldMs, the
   *  client sat inside its transaction (its process stalled or waited on something else). */
  readonly clientSilentMs: number;
}

/** The gateway's: its instance-lease connection (services/ocpp-gateway/instance-lease.ts: a renewal that waits past its
 *  timeout behind bulk writes makes the gateway stop accepting frames), and its pool (claims at every handshake, the
 *  command ledger: a charger waits on each), ahead of the projections' and other bulk writers'. */
export const URGENT_APPLICATIONS: readonly string[] = ['voltstream-lease', 'voltstream-ocpp-gateway'];

export interface SessionFront {
  readonly port: number;
  /** Client sessions now connected (started up and not yet gone). */
  sessions(): number;
  stop(): Promise<void>;
}

/** Reported to every client at startup, as a PostgreSQL server does (psql and pg read some of them). */
const REPORTED = ['server_version', 'server_encoding', 'client_encoding', 'DateStyle', 'IntervalStyle', 'TimeZone', 'integer_datetimes',
  'standard_conforming_strings', 'default_transaction_read_only', 'in_hot_standby'];
// Startup parameters that are not settings (client_encoding: PGlite speaks UTF8 only, and says so).
const NOT_SETTINGS = new Set(['user', 'database', 'replication', 'options', 'client_encoding']);

type Inbound = FrontendMessage | { readonly kind: 'closed' };

/** The SQL of the first Query or Parse among `messages` (an extended-protocol Bind/Execute alone names none). */
const statementOf = (messages: readonly Buffer[]): string => {
  for (const m of messages) {
    const type = String.fromCharCode(m[0]!);
    if (type === 'Q') return queryText(m);
    if (type === 'P') return parseMessage(m).query;
  }
  return '(a prepared statement)';
};

/** PGlite's WebAssembly aborts on COPY FROM STDIN (psql's \copy ... from stdin), taking every session with it: such a
 *  query is refused before it reaches PGlite. Only its simple-query form is recognised (psql and pg-copy-streams). */
const isCopyFromStdin = (m: Inbound): boolean => m.kind === 'typed' && m.type === 'Q' && /^\s*copy\b[\s\S]*\bfrom\s+stdin\b/i.test(queryText(m.bytes));
const COPY_FROM_STDIN_REFUSED: ErrorFields = {
  severity: 'ERROR', code: '0A000', message: 'COPY FROM STDIN is not supported by the embedded database (PGlite): use INSERT, or a PostgreSQL DATABASE_URL',
};

interface Session {
  readonly id: number;
  readonly socket: net.Socket;
  readonly inbox: Inbound[];
  /** The session's user, role and settings as last seen; live in PGlite while the session is the live one. */
  saved: SessionSettings;
  /** Sent SQL that may have changed its settings since they were last read back. */
  dirty: boolean;
  tx: TransactionState;
  /** The last ReadyForQuery status PGlite gave this session. */
  status: 'I' | 'T' | 'E';
  busy: boolean;
  done: boolean;
  readonly statements: Set<string>;
  idleTimer: NodeJS.Timeout | undefined;
  application: string;
  urgent: boolean;
  /** Since when it holds PGlite, and the statements it sent holding it (the first 200 characters). */
  heldSince: number | undefined;
  heldFor: string;
  /** When PGlite last answered it, and how long in all PGlite has waited on it in this hold. */
  answeredAt: number | undefined;
  silentMs: number;
}

class FatalSessionError extends Error {
  constructor(readonly fields: ErrorFields) {
    super(fields.message);
  }
}

/** Many client connections over PGlite's single backend. A session holds PGlite from its first message until PGlite
 *  is idle again (ReadyForQuery 'I'), so transactions run whole, one after another, and idle sessions interleave
 *  statement by statement. On a switch between sessions the leaving one's settings are read back if it may have
 *  changed them, and the arriving one's put in place; one session alone pays nothing for the others. */
export const startSessionFront = async (opts: SessionFrontOptions): Promise<SessionFront> => {
  const { db } = opts;
  const exec = (sql: string) => db.execProtocolRaw(simpleQuery(sql));
  const execOk = async (sql: string) => {
    const answer = await exec(sql);
    const e = firstError(answer);
    if (e) throw new Error(`${sql}: ${e.message}`);
    return answer;
  };

  // PGlite's own start leaves client_min_messages at debug3: every client would see its debug notices.
  await execOk('SET client_min_messages TO notice');
  const reported = dataRows(await execOk(`SELECT ${REPORTED.map((n) => `pg_catalog.current_setting('${n}')`).join(', ')}`))[0]!;
  const start = fromSnapshot(dataRows(await execOk(SNAPSHOT_SQL)));
  const baseline = start.settings;
  let current: SessionSettings = start;
  let live: number | undefined;
  let lock: LockQueue = emptyQueue;
  const waiters = new Map<number, () => void>();
  const sessions = new Map<number, Session>();
  const superusers = new Map<string, string>();
  let nextId = 1;

  const urgentApplications = new Set(opts.urgentApplications ?? URGENT_APPLICATIONS);
  const longHoldMs = opts.longHoldMs ?? 2000;
  const acquire = (s: Session): Promise<void> | undefined => {
    const held = lock.owner === s.id;
    const r = request(lock, s.id, s.urgent);
    lock = r.queue;
    if (r.granted) {
      if (!held) s.heldSince = Date.now();
      return undefined;
    }
    return new Promise<void>((resolve) => waiters.set(s.id, resolve));
  };
  const releaseLock = (s: Session) => {
    if (lock.owner === s.id && s.heldSince !== undefined) {
      const heldMs = Date.now() - s.heldSince;
      const clientSilentMs = s.silentMs + (s.answeredAt !== undefined && s.tx !== 'idle' ? Date.now() - s.answeredAt : 0);
      if (heldMs > longHoldMs) opts.onLongHold?.({ session: s.id, application: s.application, heldMs, statement: s.heldFor, waiting: lock.waiting.length, clientSilentMs });
      s.heldSince = undefined;
      s.heldFor = '';
      s.answeredAt = undefined;
      s.silentMs = 0;
    }
    const r = release(lock, s.id);
    lock = r.queue;
    waiters.delete(s.id);
    if (r.next !== undefined) {
      const next = sessions.get(r.next);
      if (next) next.heldSince = Date.now();
      const wake = waiters.get(r.next);
      waiters.delete(r.next);
      wake?.();
    }
  };

  const readBack = async (): Promise<SessionSettings> => fromSnapshot(dataRows(await execOk(SNAPSHOT_SQL)));

  /** Puts `s`'s user, role and settings in place in PGlite (the lock held). */
  const switchTo = async (s: Session) => {
    if (live === s.id) return;
    const leaving = live === undefined ? undefined : sessions.get(live);
    if (leaving?.dirty) {
      leaving.saved = current = await readBack();
      leaving.dirty = false;
    }
    const sql = switchSql(current, s.saved, baseline);
    if (sql) {
      const e = firstError(await exec(sql));
      if (e) {
        // Whatever part of the switch did happen, the state is no longer known: read it.
        current = await readBack();
        live = undefined;
        // An unknown user fails at SET SESSION AUTHORIZATION: PostgreSQL refuses it at login, as 28000.
        const code = /^role .* does not exist$/.test(e.message) ? '28000' : e.code;
        throw new FatalSessionError({ severity: 'FATAL', code, message: e.message });
      }
      current = s.saved;
    }
    live = s.id;
  };

  const send = (s: Session, bytes: Uint8Array) => {
    if (!s.socket.destroyed && s.socket.writable) s.socket.write(bytes);
  };
  const fail = (s: Session, e: ErrorFields) => {
    send(s, errorResponse(e));
    s.socket.end();
    s.socket.destroy();
  };

  const armIdleTimer = (s: Session) => {
    clearTimeout(s.idleTimer);
    s.idleTimer = undefined;
    if (!holdsDatabase(s.tx) || s.done) return;
    s.idleTimer = setTimeout(() => {
      if (holdsDatabase(s.tx) && !s.busy && s.inbox.length === 0) {
        fail(s, { severity: 'FATAL', code: '25P03', message: 'terminating connection due to idle-in-transaction timeout' });
      }
    }, opts.idleInTransactionTimeoutMs);
    s.idleTimer.unref();
  };

  const startup = async (s: Session, bytes: Buffer) => {
    const params = startupParameters(bytes);
    const user = params.user;
    if (!user) throw new FatalSessionError({ severity: 'FATAL', code: '28000', message: 'no PostgreSQL user name specified in startup packet' });
    const settings: Record<string, string> = {};
    for (const [name, value] of Object.entries(params)) if (!NOT_SETTINGS.has(name)) settings[name] = value;
    Object.assign(settings, parseStartupOptions(params.options ?? ''));
    s.saved = { user, role: 'none', settings };
    s.application = settings.application_name ?? '';
    s.urgent = urgentApplications.has(s.application);
    // A connection must not wait for another session's transaction to end. When PGlite is free, the user and settings
    // are tried now, so that a wrong one fails the login as on PostgreSQL; otherwise at the session's first message.
    if (lock.owner === undefined) {
      acquire(s);
      try {
        await switchTo(s);
        superusers.set(user, dataRows(await execOk(`SELECT pg_catalog.current_setting('is_superuser')`))[0]![0] ?? 'off');
      } finally {
        releaseLock(s);
      }
    }
    send(s, Buffer.concat([
      authenticationOk(),
      ...REPORTED.map((name, i) => parameterStatus(name, reported[i] ?? '')),
      parameterStatus('application_name', settings.application_name ?? ''),
      parameterStatus('session_authorization', user),
      parameterStatus('is_superuser', superusers.get(user) ?? 'off'),
      backendKeyData(s.id, randomInt(2 ** 31)),
      readyForQuery('I'),
    ]));
  };

  /** Forwards a run of client messages to PGlite as one call, under the lock. */
  const forward = async (s: Session, messages: Buffer[]) => {
    const prefix = `_s${s.id}_`;
    const scoped = messages.map((m) => {
      const type = String.fromCharCode(m[0]!);
      if (type === 'Q' && !s.dirty) s.dirty = mayChangeSettings(queryText(m));
      if (type === 'P') {
        const { name, query } = parseMessage(m);
        if (!s.dirty) s.dirty = mayChangeSettings(query);
        if (name) s.statements.add(prefix + name);
      }
      if (type === 'C') {
        const closed = closedStatement(m);
        if (closed) s.statements.delete(prefix + closed);
      }
      return scopeNames(m, prefix);
    });
    const waiting = acquire(s);
    if (waiting) await waiting;
    if (s.answeredAt !== undefined) s.silentMs += Date.now() - s.answeredAt;
    s.answeredAt = undefined;
    if (s.heldFor.length < 200) s.heldFor = `${s.heldFor ? `${s.heldFor} | ` : ''}${statementOf(messages)}`.slice(0, 200);
    await switchTo(s);
    for (const call of callsForPglite(scoped)) {
      const answer = await db.execProtocolRaw(call.length === 1 ? call[0]! : Buffer.concat(call));
      // The answer is a view of PGlite's output buffer, which the next call overwrites, and the socket keeps what it
      // cannot write at once by reference: a copy.
      send(s, Buffer.from(answer));
      if (expectsReadyForQuery(call) && lastReadyStatus(answer) === undefined) await unanswered(s, call);
      s.tx = afterAnswer(s.tx, answer);
      s.status = lastReadyStatus(answer) ?? s.status;
    }
    s.answeredAt = Date.now();
    if (!holdsDatabase(s.tx)) releaseLock(s);
  };

  /** PGlite dropped part of `call` unanswered: end the exchange and roll back in PGlite, then fail the session (the
   *  caller's catch closes it), rather than leave the client waiting for an answer that will never come. */
  const unanswered = async (s: Session, call: readonly Buffer[]): Promise<never> => {
    if (lastReadyStatus(await db.execProtocolRaw(sync())) !== 'I') await exec('ROLLBACK');
    s.tx = 'idle';
    s.status = 'I';
    opts.onUnanswered?.({
      session: s.id,
      application: s.application,
      messages: call.map((m) => `${String.fromCharCode(m[0]!)}:${m.length}`).join(' '),
      statement: s.heldFor,
      query: statementOf(call).slice(0, 300),
    });
    throw new FatalSessionError({
      severity: 'FATAL',
      code: '08006',
      message: 'the embedded database (PGlite) left part of this request unanswered; the transaction was rolled back: reconnect and retry',
    });
  };

  /** The session is gone: roll back what it left open, drop its statements and give PGlite back clean. */
  const finish = async (s: Session) => {
    s.done = true;
    clearTimeout(s.idleTimer);
    sessions.delete(s.id);
    const needsDatabase = holdsDatabase(s.tx) || s.statements.size > 0 || (live === s.id && s.dirty);
    if (!needsDatabase) {
      if (live === s.id) live = undefined;
      releaseLock(s);
      return;
    }
    const waiting = acquire(s);
    if (waiting) await waiting;
    try {
      if (holdsDatabase(s.tx)) {
        if (lastReadyStatus(await db.execProtocolRaw(sync())) !== 'I') await exec('ROLLBACK');
      }
      for (const name of s.statements) await exec(`DEALLOCATE ${quoteIdent(name)}`);
      if (live === s.id) {
        if (s.dirty) current = await readBack();
        live = undefined;
      }
    } finally {
      releaseLock(s);
    }
  };

  const pump = async (s: Session) => {
    if (s.busy || s.done) return;
    s.busy = true;
    try {
      while (s.inbox.length && !s.done) {
        const next = s.inbox[0]!;
        if (next.kind === 'closed') {
          s.inbox.length = 0;
          await finish(s);
        } else if (next.kind === 'untyped') {
          s.inbox.shift();
          if (next.code === SSL_REQUEST || next.code === GSSENC_REQUEST) send(s, sslRefused());
          else if (next.code === CANCEL_REQUEST) s.socket.destroy(); // no query can be cancelled mid-call in PGlite
          else if (next.code === PROTOCOL_3) await startup(s, next.bytes);
          else throw new FatalSessionError({ severity: 'FATAL', code: '0A000', message: `unsupported frontend protocol ${next.code >> 16}.${next.code & 0xffff}` });
        } else if (next.type === 'X') {
          s.inbox.shift();
          s.socket.end();
        } else if (isCopyFromStdin(next)) {
          s.inbox.shift();
          send(s, Buffer.concat([errorResponse(COPY_FROM_STDIN_REFUSED), readyForQuery(s.status)]));
        } else {
          // Every whole message up to a Terminate or a refused COPY goes to PGlite in one call.
          const run: Buffer[] = [];
          for (let m = s.inbox[0]; m?.kind === 'typed' && m.type !== 'X' && !isCopyFromStdin(m); m = s.inbox[0]) run.push((s.inbox.shift() as { bytes: Buffer }).bytes);
          await forward(s, run);
        }
      }
    } catch (e) {
      const fields = e instanceof FatalSessionError ? e.fields : { severity: 'FATAL' as const, code: 'XX000', message: (e as Error).message };
      fail(s, fields);
      if (lock.owner === s.id && !holdsDatabase(s.tx)) releaseLock(s);
    } finally {
      s.busy = false;
    }
    if (s.inbox.length && !s.done) void pump(s);
    else armIdleTimer(s);
  };

  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const s: Session = {
      id: nextId++, socket, inbox: [], saved: start, dirty: false, tx: 'idle', status: 'I', busy: false, done: false, statements: new Set(), idleTimer: undefined,
      application: '', urgent: false, heldSince: undefined, heldFor: '', answeredAt: undefined, silentMs: 0,
    };
    sessions.set(s.id, s);
    const framer = createFrontendFramer();
    socket.on('data', (chunk: Buffer) => {
      clearTimeout(s.idleTimer);
      try {
        s.inbox.push(...framer.push(chunk));
      } catch (e) {
        fail(s, { severity: 'FATAL', code: '08P01', message: (e as Error).message });
        return;
      }
      void pump(s);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      s.inbox.push({ kind: 'closed' });
      void pump(s);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : opts.port,
    sessions: () => sessions.size,
    stop: async () => {
      for (const s of sessions.values()) s.socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // Let the sessions' roll-backs run before the caller closes PGlite.
      for (let i = 0; i < 100 && lock.owner !== undefined; i++) await new Promise((r) => setTimeout(r, 10));
    },
  };
};
