import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { Pool } from 'pg';
import { quoteIdent } from '../../common/db';
import { sendJson, sendProblem } from '../../common/http';
import { IdTokenConfigured } from '../../../schemas/fleet-config';
import { ApiRoute, principalOf, readJsonBody } from '../server';
import { ConfigLog } from '../config-log';
import { IdTag, IsoInstant, isSafeId, NonEmptyString } from '../codecs';
import { CommandSender } from '../command-sender';
import { filters, historyRoute, Schemas } from './history';

/** The id-token registry (who may charge): every write is an IdTokenConfigured event on fleet.config, which the
 *  gateway follows to answer Authorize, StartTransaction and TransactionEvent. Blocking or expiring a token may also
 *  stop its running sessions (RemoteStopTransaction / RequestStopTransaction, through the commands path). */

const tokenTypes = ['Central', 'eMAID', 'ISO14443', 'ISO15693', 'KeyCode', 'Local', 'MacAddress', 'NoAuthorization'] as const;

export const IdTokenBody = t.intersection([
  t.type({ status: t.keyof({ Accepted: null, Blocked: null, Expired: null }) }),
  t.partial({
    type: t.keyof(Object.fromEntries(tokenTypes.map((k) => [k, null])) as Record<(typeof tokenTypes)[number], null>),
    expiresAt: t.union([IsoInstant, t.null]),
    parentIdTag: t.union([IdTag, t.null]),
    vehicleId: t.union([NonEmptyString, t.null]),
    driverId: t.union([NonEmptyString, t.null]),
    /** Blocked or Expired: also stop the token's running sessions. */
    stopRunningSessions: t.boolean,
  }),
]);
export type IdTokenBody = t.TypeOf<typeof IdTokenBody>;

const tokenSelect = `id_token AS "idToken", token_type AS "type", status, expires_at AS "expiresAt", parent_id_tag AS "parentIdTag",
  vehicle_id AS "vehicleId", driver_id AS "driverId", configured_at AS "configuredAt", configured_by AS "configuredBy"`;

const isTag = (s: string | undefined) => s !== undefined && s.length >= 1 && s.length <= 36 && /^[\x21-\x7e]+$/.test(s);
const tagProblem = (s: string | undefined) => (isTag(s) ? [] : [`idToken: expected 1 to 36 printable characters, got ${JSON.stringify(s)}`]);

const present = (r: Record<string, unknown>) => ({
  ...r,
  expiresAt: r.expiresAt instanceof Date ? r.expiresAt.toISOString() : null,
  configuredAt: r.configuredAt instanceof Date ? r.configuredAt.toISOString() : r.configuredAt,
});

export const idTokenRoutes = (d: { pool: Pool; schemas: Schemas; log: ConfigLog; commands: CommandSender }): ApiRoute[] => {
  const s = quoteIdent(d.schemas.projections);

  const put: ApiRoute = {
    method: 'PUT',
    path: '/api/v1/id-tokens/{idToken}',
    scope: 'config:write',
    tag: 'authorization',
    summary: 'Create or replace an id token (RFID card, app token, vehicle tag): status, expiry, group, owner',
    description:
      'Appends IdTokenConfigured to fleet.config. The gateway answers Authorize, StartTransaction (1.6) and TransactionEvent (2.0.1) from it: ' +
      'Blocked and Expired tokens (and Accepted ones past expiresAt) are refused with that status, unknown ones as Invalid. ' +
      'stopRunningSessions with a status other than Accepted also sends a remote stop for each session the token has running (stoppedSessions: their command ids).',
    requestBody: IdTokenBody,
    handle: async (req, res, params) => {
      const body = await readJsonBody(req, IdTokenBody);
      const bad = tagProblem(params.idToken);
      if (E.isLeft(body)) return sendProblem(res, body.left.status, body.left.title, [...bad, ...body.left.problems]);
      if (bad.length) return sendProblem(res, 400, 'Invalid request', bad);
      const b = body.right;
      const actor = principalOf(req)?.id ?? 'unknown';
      const event: IdTokenConfigured = {
        type: 'IdTokenConfigured',
        idToken: params.idToken!,
        tokenType: b.type ?? 'ISO14443',
        status: b.status,
        expiresAt: b.expiresAt ? Date.parse(b.expiresAt) : null,
        parentIdTag: b.parentIdTag ?? null,
        vehicleId: b.vehicleId ?? null,
        driverId: b.driverId ?? null,
      };
      const appended = await d.log.append(event, actor);
      const stopped: { sessionId: string; chargePointId: string; commandId?: string; problems?: string[] }[] = [];
      if (b.stopRunningSessions && b.status !== 'Accepted') {
        const { rows } = await d.pool.query<{ session_id: string; charge_point_id: string; transaction_id: string }>(
          `SELECT session_id, charge_point_id, transaction_id FROM ${s}.sessions WHERE id_tag = $1 AND active ORDER BY session_id`,
          [event.idToken],
        );
        for (const r of rows) {
          const protocol = await d.commands.protocolOf(r.charge_point_id);
          if (E.isLeft(protocol)) {
            stopped.push({ sessionId: r.session_id, chargePointId: r.charge_point_id, problems: protocol.left.problems });
            continue;
          }
          const request =
            protocol.right === 'ocpp1.6'
              ? { action: 'RemoteStopTransaction', payload: { transactionId: Number(r.transaction_id) } }
              : { action: 'RequestStopTransaction', payload: { transactionId: r.transaction_id } };
          const sent = await d.commands.send(r.charge_point_id, request, `api:${actor}`);
          stopped.push(E.isRight(sent) ? { sessionId: r.session_id, chargePointId: r.charge_point_id, commandId: sent.right.commandId } : { sessionId: r.session_id, chargePointId: r.charge_point_id, problems: sent.left.problems });
        }
      }
      const { type: _type, expiresAt, tokenType, ...rest } = event;
      sendJson(res, 200, {
        eventId: appended.eventId,
        at: new Date(appended.at).toISOString(),
        log: { topic: appended.topic, key: appended.key, partition: appended.partition, offset: appended.offset },
        ...rest,
        type: tokenType,
        expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString(),
        ...(b.stopRunningSessions ? { stoppedSessions: stopped } : {}),
      });
    },
  };

  const one: ApiRoute = {
    method: 'GET',
    path: '/api/v1/id-tokens/{idToken}',
    scope: 'history:read',
    tag: 'authorization',
    summary: 'An id token as last configured',
    description: 'From projections.id_tokens (fleet.config IdTokenConfigured).',
    handle: async (_req, res, params) => {
      const bad = tagProblem(params.idToken);
      if (bad.length) return sendProblem(res, 400, 'Invalid request', bad);
      const { rows } = await d.pool.query<Record<string, unknown>>(`SELECT ${tokenSelect} FROM ${s}.id_tokens WHERE id_token = $1`, [params.idToken]);
      return rows[0] ? sendJson(res, 200, present(rows[0])) : sendProblem(res, 404, 'Unknown id token', [`idToken: no id token ${params.idToken} is configured`]);
    },
  };

  const history = historyRoute(
    d.pool,
    d.schemas,
    {
      path: '/api/v1/id-tokens/{idToken}/history',
      summary: "Every change to an id token's registry entry, in the range",
      description: 'From projections.id_token_changes (fleet.config IdTokenConfigured), in log order.',
      columns: ['configuredAt', 'idToken', 'type', 'status', 'expiresAt', 'parentIdTag', 'vehicleId', 'driverId', 'configuredBy', 'eventId'],
      from: (x) => `${quoteIdent(x.projections)}.id_token_changes c`,
      time: 'c.configured_at',
      keys: [{ sql: 'c.event_id', type: 'text' }],
      select: `c.configured_at AS "configuredAt", c.id_token AS "idToken", c.token_type AS "type", c.status, c.expires_at AS "expiresAt",
        c.parent_id_tag AS "parentIdTag", c.vehicle_id AS "vehicleId", c.driver_id AS "driverId", c.configured_by AS "configuredBy", c.event_id AS "eventId"`,
      filter: (p, u) => {
        const f = filters(u, {}, {});
        const bad = tagProblem(p.idToken);
        return { where: [...f.where, `c.id_token = $${f.values.length + 1}`], values: [...f.values, p.idToken], problems: [...f.problems, ...bad] };
      },
    },
    { tag: 'authorization' },
  );

  return [put, one, history];
};

/** Ids in paths other than tokens. */
export const safeIdProblem = (name: string, v: string | undefined): string[] => (isSafeId(v ?? '') ? [] : [`${name}: expected 1-128 letters, digits or . _ : @ -, got ${JSON.stringify(v)}`]);
