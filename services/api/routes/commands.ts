import { randomUUID } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { Pool } from 'pg';
import { Producer } from 'kafkajs';
import { quoteIdent } from '../../common/db';
import { RouteParams, sendJson, sendProblem } from '../../common/http';
import { DURABLE_ACKS } from '../../common/kafka';
import { TopicSerde } from '../../../schemas/registry';
import { Topics } from '../../../schemas/topics';
import { Protocol } from '../../ocpp-gateway/protocol';
import { ApiRoute, principalOf, readJsonBody } from '../server';
import { CommandBody, CommandOptions, isSafeId } from '../codecs';
import { checkCommandFor, isProtocol } from '../ocpp-command-check';
import { commandShortcuts, OcppRequest } from '../command-shortcuts';
import { createCommandRequests } from '../command-requests';
import { chargerProtocol, CommandView, commandViewSelect, readCommand } from '../command-view';
import { filters, historyRoute, Schemas } from './history';

/** Commands to chargers (scope commands:write). A command is checked against the official OCPP schema of the version
 *  the charger speaks, then written to ocpp.commands; the gateway delivers it and records the outcome on
 *  ocpp.command-results; streams/projections folds both into `commands`, which the reads answer from. */
export interface CommandRouteDeps {
  readonly pool: Pool;
  readonly schemas: Schemas;
  readonly producer: Producer;
  readonly serde: TopicSerde;
}

/** Longest ?wait= honoured, seconds; longer waits are cut to this. */
export const MAX_WAIT_S = 60;
const POLL_MS = 250;
/** How long this process answers for a command it wrote that the projection does not show yet. */
const RECENT_MS = 10 * 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const idProblem = (name: string, v: string | undefined): string[] => (isSafeId(v ?? '') ? [] : [`${name}: expected 1-128 letters, digits or . _ : @ -, got ${JSON.stringify(v)}`]);

/** Commands written by this process, until the projection shows them: a GET right after the POST is not a 404. */
const recentCommands = () => {
  const entries = new Map<string, { view: CommandView; until: number }>();
  return {
    add: (view: CommandView) => {
      const now = Date.now();
      for (const [id, e] of entries) {
        if (e.until > now) break;
        entries.delete(id);
      }
      entries.set(view.commandId, { view, until: now + RECENT_MS });
    },
    get: (commandId: string): CommandView | undefined => {
      const e = entries.get(commandId);
      return e && e.until > Date.now() ? e.view : undefined;
    },
  };
};

export const parseWait = (v: string | null): E.Either<string, number> => {
  if (v === null || v === '') return E.right(0);
  if (!/^\d+(\.\d+)?$/.test(v)) return E.left(`wait: expected seconds to wait for an outcome (0-${MAX_WAIT_S}), got ${JSON.stringify(v)}`);
  return E.right(Math.min(Number(v), MAX_WAIT_S));
};

export const commandRoutes = (d: CommandRouteDeps): ApiRoute[] => {
  const requests = createCommandRequests(d.pool, d.schemas.api);
  const recent = recentCommands();

  const current = async (commandId: string): Promise<CommandView | undefined> => (await readCommand(d.pool, d.schemas.projections, commandId)) ?? recent.get(commandId);

  const accepted = (res: ServerResponse, commandId: string, status: string) =>
    sendJson(res, 202, { commandId, status }, { Location: `/api/v1/commands/${encodeURIComponent(commandId)}` });

  /** Checks the command for the charger's version, writes it (once per idempotency key) and answers 202. */
  const issue = async (req: IncomingMessage, res: ServerResponse, chargePointId: string, build: (p: Protocol) => E.Either<string[], OcppRequest>, options: CommandOptions, request: unknown) => {
    const charger = await chargerProtocol(d.pool, d.schemas.projections, chargePointId);
    if (!charger.configured) return sendProblem(res, 404, 'Unknown charger', [`chargePointId: no charger ${chargePointId} is configured (PUT /api/v1/chargers/${chargePointId})`]);
    if (!isProtocol(charger.protocol)) return sendProblem(res, 409, 'OCPP version unknown', [`chargePointId: the OCPP version of ${chargePointId} is not known yet: it has not connected since it was configured`]);
    const protocol = charger.protocol;
    const built = build(protocol);
    if (E.isLeft(built)) return sendProblem(res, 400, 'Invalid command', built.left);
    const checked = checkCommandFor(protocol, built.right.action, built.right.payload);
    if (E.isLeft(checked)) return sendProblem(res, 400, `Not a valid ${protocol} command`, checked.left);

    let commandId: string = randomUUID();
    const key = options.idempotencyKey;
    if (key !== undefined) {
      const reservation = await requests.reserve(chargePointId, key, request, commandId);
      if (reservation.kind === 'conflict') return sendProblem(res, 409, 'Conflict', [reservation.problem]);
      if (reservation.kind === 'replay') return accepted(res, reservation.commandId, (await current(reservation.commandId))?.status ?? 'pending');
      commandId = reservation.commandId;
    }
    const issuedAt = Date.now();
    const issuedBy = `api:${principalOf(req)?.id ?? 'unknown'}`;
    try {
      const value = await d.serde.encode(Topics.ocppCommands, {
        commandId,
        chargePointId,
        action: built.right.action,
        payloadJson: JSON.stringify(built.right.payload),
        issuedBy,
        issuedAt,
        expiresAt: options.expiresAt === undefined ? null : Date.parse(options.expiresAt),
        planId: null,
      });
      await d.producer.send({ topic: Topics.ocppCommands, acks: DURABLE_ACKS, messages: [{ key: chargePointId, value, timestamp: String(issuedAt) }] });
    } catch (e) {
      if (key !== undefined) await requests.release(chargePointId, key).catch(() => undefined);
      throw e;
    }
    if (key !== undefined) await requests.written(chargePointId, key);
    recent.add({ commandId, chargePointId, action: built.right.action, status: 'pending', issuedBy, issuedAt: new Date(issuedAt).toISOString() });
    accepted(res, commandId, 'pending');
  };

  const commandRoute = <A extends CommandOptions>(spec: { path: string; summary: string; description: string; codec: t.Type<A, unknown, unknown>; build: (body: A) => (p: Protocol) => E.Either<string[], OcppRequest> }): ApiRoute => ({
    method: 'POST',
    path: spec.path,
    scope: 'commands:write',
    tag: 'commands',
    summary: spec.summary,
    description: spec.description,
    requestBody: spec.codec,
    okStatus: 202,
    handle: async (req, res, params: RouteParams) => {
      const body = await readJsonBody(req, spec.codec);
      const badId = idProblem('chargePointId', params.chargePointId);
      if (E.isLeft(body)) return sendProblem(res, body.left.status, body.left.title, [...badId, ...body.left.problems]);
      if (badId.length) return sendProblem(res, 400, 'Invalid request', badId);
      await issue(req, res, params.chargePointId!, spec.build(body.right), body.right, body.right);
    },
  });

  const generic = commandRoute({
    path: '/api/v1/chargers/{chargePointId}/commands',
    summary: 'Send any OCPP command the central system may send, in the version the charger speaks',
    description:
      'The payload is checked against the official OCPP JSON schema of the charger\'s version (charger_status.protocol) and the action\'s direction; ' +
      '400 names every schema error. 202 { commandId, status: "pending" }; the outcome: GET /api/v1/commands/{commandId}. ' +
      'The same idempotencyKey and body for the same charger answers the same commandId and writes no second command.',
    codec: CommandBody,
    build: (b: CommandBody) => () => E.right({ action: b.action, payload: b.payload }),
  });

  const shortcuts = commandShortcuts.map((s) =>
    commandRoute({
      path: `/api/v1/chargers/{chargePointId}/commands/${s.name}`,
      summary: s.summary,
      description: 'Mapped to the action and payload of the version the charger speaks, then handled as POST /api/v1/chargers/{chargePointId}/commands.',
      codec: t.intersection([s.body, CommandOptions]) as t.Type<CommandOptions, unknown, unknown>,
      build: (b) => (p) => s.toRequest(p, b),
    }),
  );

  const one: ApiRoute = {
    method: 'GET',
    path: '/api/v1/commands/{commandId}',
    scope: 'commands:write',
    tag: 'commands',
    summary: 'A command and its outcome; ?wait=S waits up to S seconds for the outcome',
    description: `status: pending, accepted, rejected, callerror, timeout, offline, invalid or expired; response is the charger's answer payload. wait is capped at ${MAX_WAIT_S} s.`,
    query: [{ name: 'wait', description: `seconds to wait for an outcome while pending (0-${MAX_WAIT_S}; more is cut to ${MAX_WAIT_S})`, schema: { type: 'number', minimum: 0 } }],
    handle: async (req, res, params, url) => {
      const wait = parseWait(url.searchParams.get('wait'));
      const problems = [...idProblem('commandId', params.commandId), ...(E.isLeft(wait) ? [wait.left] : [])];
      if (problems.length || E.isLeft(wait)) return sendProblem(res, 400, 'Invalid request', problems);
      const deadline = Date.now() + wait.right * 1000;
      for (;;) {
        const view = await current(params.commandId!);
        if ((view && view.status !== 'pending') || Date.now() >= deadline || req.socket.destroyed) {
          return view ? sendJson(res, 200, view) : sendProblem(res, 404, 'Unknown command', [`commandId: no command ${params.commandId}`]);
        }
        await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
      }
    },
  };

  const history = historyRoute(
    d.pool,
    d.schemas,
    {
      path: '/api/v1/chargers/{chargePointId}/commands',
      summary: "A charger's commands, issued in the range, with their outcomes and who issued them",
      description: 'From projections.commands (ocpp.commands and ocpp.command-results), ordered by issue time.',
      columns: ['commandId', 'chargePointId', 'action', 'status', 'response', 'error', 'issuedBy', 'issuedAt', 'completedAt'],
      from: (s) => `${quoteIdent(s.projections)}.commands c`,
      time: 'c.issued_at',
      keys: [{ sql: 'c.command_id', type: 'text' }],
      select: commandViewSelect,
      filter: (p, u) => filters(u, p, { path: ['chargePointId', 'c.charge_point_id = ?'] }),
    },
    { scope: 'commands:write', tag: 'commands' },
  );

  return [generic, ...shortcuts, one, history];
};
