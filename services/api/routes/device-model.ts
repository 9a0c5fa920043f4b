import { randomInt } from 'node:crypto';
import * as E from 'fp-ts/Either';
import { Pool } from 'pg';
import { quoteIdent } from '../../common/db';
import { sendJson, sendProblem } from '../../common/http';
import { deviceModelRequest } from '../../../schemas/device-model-request';
import { ApiRoute, principalOf } from '../server';
import { CommandSender } from '../command-sender';
import { filters, historyRoute, Schemas } from './history';
import { safeIdProblem } from './id-tokens';

/** What each charger can do: its reported configuration (projections.device_model, from charging.events
 *  DeviceModelReported), a refresh on demand, and the history of reported values. */

const modelSelect = `charge_point_id AS "chargePointId", protocol, rate_unit AS "rateUnit", max_schedule_periods AS "maxSchedulePeriods",
  max_profiles AS "maxProfiles", max_stack_level AS "maxStackLevel", phases, connectors, connector_types AS "connectorTypes",
  firmware_version AS "firmwareVersion", reported_at AS "reportedAt", variables`;

export const deviceModelRoutes = (d: { pool: Pool; schemas: Schemas; commands: CommandSender }): ApiRoute[] => {
  const s = quoteIdent(d.schemas.projections);

  const get: ApiRoute = {
    method: 'GET',
    path: '/api/v1/chargers/{chargePointId}/device-model',
    scope: 'history:read',
    tag: 'device model',
    summary: 'What a charger reported it can do: configuration keys / variables and the capabilities read from them',
    description: 'From projections.device_model. rateUnit A, W or A,W; a capability it did not report is null (the static configuration applies).',
    handle: async (_req, res, params) => {
      const bad = safeIdProblem('chargePointId', params.chargePointId);
      if (bad.length) return sendProblem(res, 400, 'Invalid request', bad);
      const { rows } = await d.pool.query<Record<string, unknown>>(`SELECT ${modelSelect} FROM ${s}.device_model WHERE charge_point_id = $1`, [params.chargePointId]);
      return rows[0] ? sendJson(res, 200, rows[0]) : sendProblem(res, 404, 'No device model', [`chargePointId: ${params.chargePointId} has reported no configuration yet (POST .../device-model/refresh)`]);
    },
  };

  const refresh: ApiRoute = {
    method: 'POST',
    path: '/api/v1/chargers/{chargePointId}/device-model/refresh',
    scope: 'commands:write',
    tag: 'device model',
    summary: "Read the charger's configuration again: GetConfiguration (1.6) or GetBaseReport FullInventory (2.0.1)",
    description: 'Sent through the commands path; 202 { commandId }. The answer (1.6) or the NotifyReport parts that follow (2.0.1) update the device model.',
    okStatus: 202,
    handle: async (req, res, params) => {
      const bad = safeIdProblem('chargePointId', params.chargePointId);
      if (bad.length) return sendProblem(res, 400, 'Invalid request', bad);
      const protocol = await d.commands.protocolOf(params.chargePointId!);
      if (E.isLeft(protocol)) return sendProblem(res, protocol.left.status, protocol.left.title, protocol.left.problems);
      const sent = await d.commands.send(params.chargePointId!, deviceModelRequest(protocol.right, randomInt(1, 2 ** 31 - 1)), `api:${principalOf(req)?.id ?? 'unknown'}`);
      if (E.isLeft(sent)) return sendProblem(res, sent.left.status, sent.left.title, sent.left.problems);
      sendJson(res, 202, { commandId: sent.right.commandId, action: sent.right.request.action, status: 'pending' }, { Location: `/api/v1/commands/${sent.right.commandId}` });
    },
  };

  const history = historyRoute(
    d.pool,
    d.schemas,
    {
      path: '/api/v1/chargers/{chargePointId}/device-model/history',
      summary: 'Every configuration value a charger reported, in the range',
      description: 'From projections.device_model_changes (charging.events DeviceModelReported), in log order.',
      columns: ['reportedAt', 'chargePointId', 'key', 'value', 'readonly', 'source', 'eventId'],
      from: (x) => `${quoteIdent(x.projections)}.device_model_changes c`,
      time: 'c.reported_at',
      keys: [
        { sql: 'c.event_id', type: 'text' },
        { sql: 'c.key', type: 'text' },
      ],
      select: `c.reported_at AS "reportedAt", c.charge_point_id AS "chargePointId", c.key, c.value, c.readonly, c.source, c.event_id AS "eventId"`,
      filter: (p, u) => filters(u, p, { path: ['chargePointId', 'c.charge_point_id = ?'] }),
    },
    { tag: 'device model' },
  );

  return [get, refresh, history];
};
