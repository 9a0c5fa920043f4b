import { randomInt } from 'node:crypto';
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { Pool } from 'pg';
import { quoteIdent } from '../../common/db';
import { sendJson, sendProblem } from '../../common/http';
import { Protocol } from '../../ocpp-gateway/protocol';
import { ApiRoute, principalOf, readJsonBody } from '../server';
import { ConfigLog } from '../config-log';
import { CommandSender } from '../command-sender';
import { OcppRequest } from '../command-shortcuts';
import { IdTag, IsoInstant } from '../codecs';
import { Schemas } from './history';
import { safeIdProblem } from './id-tokens';

/** Reservations (scope commands:write): ReserveNow / CancelReservation through the commands path. A reservation the
 *  charger accepts becomes ReservationMade on fleet.config: the gateway then refuses other tokens' starts on it and the
 *  optimizer keeps the charger free until it expires; DELETE cancels it on the charger and appends ReservationCancelled. */

const ReservationBody = t.intersection([
  t.type({ idTag: IdTag, expiresAt: IsoInstant }),
  t.partial({ connectorId: t.number, reservationId: t.number, parentIdTag: IdTag, waitSeconds: t.number }),
]);
type ReservationBody = t.TypeOf<typeof ReservationBody>;

const DEFAULT_WAIT_S = 30;

export const reserveNowRequest = (p: Protocol, b: ReservationBody & { reservationId: number; connectorId: number }): OcppRequest =>
  p === 'ocpp1.6'
    ? { action: 'ReserveNow', payload: { connectorId: b.connectorId, expiryDate: new Date(Date.parse(b.expiresAt)).toISOString(), idTag: b.idTag, reservationId: b.reservationId, ...(b.parentIdTag ? { parentIdTag: b.parentIdTag } : {}) } }
    : {
        action: 'ReserveNow',
        payload: {
          id: b.reservationId,
          expiryDateTime: new Date(Date.parse(b.expiresAt)).toISOString(),
          idToken: { idToken: b.idTag, type: 'ISO14443' },
          ...(b.connectorId > 0 ? { evseId: b.connectorId } : {}),
          ...(b.parentIdTag ? { groupIdToken: { idToken: b.parentIdTag, type: 'Central' } } : {}),
        },
      };

const reservationSelect = `charge_point_id AS "chargePointId", reservation_id AS "reservationId", connector_id AS "connectorId", id_tag AS "idTag",
  expires_at AS "expiresAt", command_id AS "commandId", reserved_at AS "reservedAt", cancelled_at AS "cancelledAt",
  (cancelled_at IS NULL AND expires_at > now()) AS "active"`;

export const reservationRoutes = (d: { pool: Pool; schemas: Schemas; log: ConfigLog; commands: CommandSender }): ApiRoute[] => {
  const s = quoteIdent(d.schemas.projections);

  const reserve: ApiRoute = {
    method: 'POST',
    path: '/api/v1/chargers/{chargePointId}/reservations',
    scope: 'commands:write',
    tag: 'authorization',
    summary: 'Reserve a charger (connectorId 0 or absent: the whole charger) for an id token until expiresAt',
    description:
      'Sends ReserveNow and waits up to waitSeconds (default 30) for the answer. Accepted: appends ReservationMade to fleet.config and answers 201; ' +
      'the charger is then held for the token (and its group) until expiresAt. Refused by the charger: 409 with its answer; no answer yet: 504 with the command id (nothing is held).',
    requestBody: ReservationBody,
    okStatus: 201,
    handle: async (req, res, params) => {
      const body = await readJsonBody(req, ReservationBody);
      const bad = safeIdProblem('chargePointId', params.chargePointId);
      if (E.isLeft(body)) return sendProblem(res, body.left.status, body.left.title, [...bad, ...body.left.problems]);
      const b = body.right;
      const problems = [
        ...bad,
        ...(Date.parse(b.expiresAt) <= Date.now() ? [`expiresAt: ${b.expiresAt} is not in the future`] : []),
        ...(b.connectorId !== undefined && !(Number.isInteger(b.connectorId) && b.connectorId >= 0) ? ['connectorId: expected a whole number >= 0'] : []),
        ...(b.reservationId !== undefined && !(Number.isInteger(b.reservationId) && b.reservationId >= 0 && b.reservationId < 2 ** 31) ? ['reservationId: expected a whole number 0..2^31-1'] : []),
      ];
      if (problems.length) return sendProblem(res, 400, 'Invalid request', problems);
      const cp = params.chargePointId!;
      const protocol = await d.commands.protocolOf(cp);
      if (E.isLeft(protocol)) return sendProblem(res, protocol.left.status, protocol.left.title, protocol.left.problems);
      const waitMs = Math.min(Math.max(b.waitSeconds ?? DEFAULT_WAIT_S, 1), 60) * 1000;
      const reservationId = b.reservationId ?? randomInt(1, 2 ** 31 - 1);
      const connectorId = b.connectorId ?? 0;
      const actor = principalOf(req)?.id ?? 'unknown';
      const sent = await d.commands.send(cp, reserveNowRequest(protocol.right, { ...b, reservationId, connectorId }), `api:${actor}`, Date.now() + waitMs);
      if (E.isLeft(sent)) return sendProblem(res, sent.left.status, sent.left.title, sent.left.problems);
      const done = await d.commands.outcome(sent.right.commandId, waitMs);
      if (!done || done.status === 'pending') return sendProblem(res, 504, 'No answer yet', [`ReserveNow (command ${sent.right.commandId}) has no answer after ${waitMs / 1000} s; nothing is held`]);
      if (done.status !== 'accepted') return sendJson(res, 409, { reservationId, commandId: sent.right.commandId, status: done.status, response: done.response, error: done.error });
      const expiresAt = Date.parse(b.expiresAt);
      const appended = await d.log.append({ type: 'ReservationMade', chargePointId: cp, reservationId, connectorId, idTag: b.idTag, expiresAt, commandId: sent.right.commandId }, actor);
      sendJson(res, 201, { chargePointId: cp, reservationId, connectorId, idTag: b.idTag, expiresAt: new Date(expiresAt).toISOString(), commandId: sent.right.commandId, status: 'accepted', eventId: appended.eventId });
    },
  };

  const cancel: ApiRoute = {
    method: 'DELETE',
    path: '/api/v1/chargers/{chargePointId}/reservations/{reservationId}',
    scope: 'commands:write',
    tag: 'authorization',
    summary: 'Cancel a reservation: CancelReservation on the charger, then ReservationCancelled on fleet.config',
    description: "The reservation stops holding the charger whatever the charger answers (an expired or unknown reservation is Rejected by it); the answer carries the charger's outcome.",
    handle: async (req, res, params) => {
      const id = Number(params.reservationId);
      const problems = [...safeIdProblem('chargePointId', params.chargePointId), ...(/^\d{1,10}$/.test(params.reservationId ?? '') && id < 2 ** 31 ? [] : ['reservationId: expected a whole number'])];
      if (problems.length) return sendProblem(res, 400, 'Invalid request', problems);
      const cp = params.chargePointId!;
      const { rows } = await d.pool.query(`SELECT 1 FROM ${s}.reservations WHERE charge_point_id = $1 AND reservation_id = $2 AND cancelled_at IS NULL`, [cp, id]);
      if (!rows.length) return sendProblem(res, 404, 'Unknown reservation', [`reservationId: no open reservation ${id} on ${cp}`]);
      const actor = principalOf(req)?.id ?? 'unknown';
      const sent = await d.commands.send(cp, { action: 'CancelReservation', payload: { reservationId: id } }, `api:${actor}`, Date.now() + DEFAULT_WAIT_S * 1000);
      const commandId = E.isRight(sent) ? sent.right.commandId : null;
      const done = commandId ? await d.commands.outcome(commandId, DEFAULT_WAIT_S * 1000) : undefined;
      const appended = await d.log.append({ type: 'ReservationCancelled', chargePointId: cp, reservationId: id, commandId }, actor);
      sendJson(res, 200, { chargePointId: cp, reservationId: id, commandId, status: done?.status ?? (E.isLeft(sent) ? 'not-sent' : 'pending'), response: done?.response, eventId: appended.eventId });
    },
  };

  const list: ApiRoute = {
    method: 'GET',
    path: '/api/v1/chargers/{chargePointId}/reservations',
    scope: 'commands:write',
    tag: 'authorization',
    summary: "A charger's reservations; active: not cancelled and not expired",
    description: 'From projections.reservations (fleet.config ReservationMade / ReservationCancelled).',
    handle: async (_req, res, params) => {
      const bad = safeIdProblem('chargePointId', params.chargePointId);
      if (bad.length) return sendProblem(res, 400, 'Invalid request', bad);
      const { rows } = await d.pool.query<Record<string, unknown>>(`SELECT ${reservationSelect} FROM ${s}.reservations WHERE charge_point_id = $1 ORDER BY reserved_at, reservation_id`, [params.chargePointId]);
      sendJson(res, 200, { items: rows });
    },
  };

  return [reserve, cancel, list];
};
