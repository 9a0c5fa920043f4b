import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { Pool } from 'pg';
import { quoteIdent } from '../../common/db';
import { sendJson, sendProblem } from '../../common/http';
import { ApiRoute, principalOf, readJsonBody } from '../server';
import { CommandSender } from '../command-sender';
import { carriable, heldFrom, HeldList, planSync, RegistryRow, reportedVersion, sendLocalListRequest, wantedFrom } from '../local-list';
import { Schemas } from './history';
import { safeIdProblem } from './id-tokens';

/** Local authorization lists per charger (scope commands:write): a sync asks the charger its list version
 *  (GetLocalListVersion), compares it with the version of the last SendLocalList it accepted, and sends one
 *  SendLocalList: differential with the next version, or full when the versions diverged (services/api/local-list.ts). */

const SyncBody = t.partial({ waitSeconds: t.number });
const DEFAULT_WAIT_S = 30;

const toEntryJson = (held: HeldList) => ({
  version: held.version,
  entries: [...held.entries.values()].map((e) => ({ ...e, ...(e.expiresAt !== undefined ? { expiresAt: new Date(e.expiresAt).toISOString() } : {}) })),
});

export const localListRoutes = (d: { pool: Pool; schemas: Schemas; commands: CommandSender }): ApiRoute[] => {
  const s = quoteIdent(d.schemas.projections);

  const held = async (chargePointId: string): Promise<HeldList> => {
    const { rows } = await d.pool.query<{ payload: unknown }>(
      `SELECT payload FROM ${s}.commands WHERE charge_point_id = $1 AND action = 'SendLocalList' AND outcome = 'ACCEPTED' AND issued_at IS NOT NULL ORDER BY issued_at, command_id`,
      [chargePointId],
    );
    return heldFrom(rows.map((r) => r.payload));
  };

  const wanted = async () => {
    const { rows } = await d.pool.query<{ id_token: string; token_type: string; status: RegistryRow['status']; expires_at: Date | null; parent_id_tag: string | null }>(
      `SELECT id_token, token_type, status, expires_at, parent_id_tag FROM ${s}.id_tokens`,
    );
    return wantedFrom(rows.map((r) => ({ idToken: r.id_token, tokenType: r.token_type, status: r.status, expiresAt: r.expires_at?.getTime() ?? null, parentIdTag: r.parent_id_tag })), Date.now());
  };

  const sync: ApiRoute = {
    method: 'POST',
    path: '/api/v1/chargers/{chargePointId}/local-list/sync',
    scope: 'commands:write',
    tag: 'authorization',
    summary: "Bring the charger's local authorization list in line with the id-token registry",
    description:
      'Sends GetLocalListVersion, then at most one SendLocalList: Differential with the next version when the charger reports the version of the last list it accepted, ' +
      'Full when the versions diverge; nothing when the list is current. Tokens longer than the version allows (1.6: 20 characters) are left out (leftOut). Waits up to waitSeconds (default 30) for each answer. ' +
      '200 { outcome: "sent" | "in-sync", updateType?, version, commandIds, status } ; 504 while the charger has not answered.',
    requestBody: SyncBody,
    handle: async (req, res, params) => {
      const body = await readJsonBody(req, SyncBody);
      const bad = safeIdProblem('chargePointId', params.chargePointId);
      if (E.isLeft(body)) return sendProblem(res, body.left.status, body.left.title, [...bad, ...body.left.problems]);
      if (bad.length) return sendProblem(res, 400, 'Invalid request', bad);
      const cp = params.chargePointId!;
      const waitMs = Math.min(Math.max(body.right.waitSeconds ?? DEFAULT_WAIT_S, 1), 60) * 1000;
      const issuedBy = `api:${principalOf(req)?.id ?? 'unknown'}`;
      const asked = await d.commands.send(cp, { action: 'GetLocalListVersion', payload: {} }, issuedBy, Date.now() + waitMs);
      if (E.isLeft(asked)) return sendProblem(res, asked.left.status, asked.left.title, asked.left.problems);
      const answer = await d.commands.outcome(asked.right.commandId, waitMs);
      if (answer?.status !== 'accepted') {
        return sendProblem(res, answer?.status === 'pending' || !answer ? 504 : 502, 'GetLocalListVersion failed', [`GetLocalListVersion (command ${asked.right.commandId}): ${answer?.status ?? 'pending'}${answer?.error ? `: ${answer.error}` : ''}`]);
      }
      const chargerVersion = reportedVersion(answer.response);
      const current = await held(cp);
      const { list, leftOut } = carriable(asked.right.protocol, await wanted());
      const update = planSync(current, chargerVersion, list);
      if (!update) return sendJson(res, 200, { outcome: 'in-sync', version: current.version, chargerVersion, leftOut, commandIds: [asked.right.commandId] });
      const sent = await d.commands.send(cp, sendLocalListRequest(asked.right.protocol, update), issuedBy, Date.now() + waitMs);
      if (E.isLeft(sent)) return sendProblem(res, sent.left.status, sent.left.title, sent.left.problems);
      const done = await d.commands.outcome(sent.right.commandId, waitMs);
      sendJson(res, done?.status === 'pending' || !done ? 504 : 200, {
        outcome: 'sent',
        updateType: update.updateType,
        version: update.version,
        chargerVersion,
        changes: update.changes.length,
        leftOut,
        status: done?.status ?? 'pending',
        response: done?.response,
        commandIds: [asked.right.commandId, sent.right.commandId],
      });
    },
  };

  const get: ApiRoute = {
    method: 'GET',
    path: '/api/v1/chargers/{chargePointId}/local-list',
    scope: 'commands:write',
    tag: 'authorization',
    summary: 'The local authorization list the charger holds: the fold of the SendLocalList updates it accepted',
    description: 'From projections.commands (SendLocalList commands and their outcomes).',
    handle: async (_req, res, params) => {
      const bad = safeIdProblem('chargePointId', params.chargePointId);
      if (bad.length) return sendProblem(res, 400, 'Invalid request', bad);
      sendJson(res, 200, { chargePointId: params.chargePointId, ...toEntryJson(await held(params.chargePointId!)) });
    },
  };

  return [sync, get];
};
