import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { quoteIdent } from '../../common/db';
import { sendJson, sendProblem } from '../../common/http';
import { ApiRoute, principalOf } from '../server';
import { ConfigLog } from '../config-log';
import { isSafeId, LimitEventBody, PanelBody } from '../codecs';
import { configRoute, logPlaceOf } from './config';
import { Schemas } from './history';

/** A site's limits besides its connection limit (issue 17): panels of its hierarchy, and limit events (time-bounded
 *  reductions of the connection limit: utility demand response). Writes are fleet.config events (scope config:write)
 *  the optimizer re-plans on at once; the list reads the projection site_limit_events (scope history:read). */

const idProblem = (name: string, v: string | undefined): string[] => (isSafeId(v ?? '') ? [] : [`${name}: expected 1-128 letters, digits or . _ : @ -, got ${JSON.stringify(v)}`]);
const iso = (ms: unknown) => (ms instanceof Date ? ms.toISOString() : typeof ms === 'number' ? new Date(ms).toISOString() : ms);

export const siteLimitRoutes = (d: { pool: Pool; schemas: Schemas; log: ConfigLog }): ApiRoute[] => {
  const s = quoteIdent(d.schemas.projections);
  return [
    configRoute({
      log: d.log,
      method: 'PUT',
      path: '/api/v1/sites/{siteId}/panels/{panelId}',
      summary: 'Create or replace a panel (feeder, distribution board, transformer) of the site, with its kW and per-phase ampere limits',
      description:
        'Appends PanelConfigured to fleet.config. parentPanelId names the panel it is fed from (absent or null: the connection); chargers hang on a panel by their panelId (PUT /api/v1/chargers/{id}). ' +
        'The optimizer keeps every panel, with all chargers on it and on the panels below it, within limitKw and, where given, maxCurrentA on each phase.',
      codec: PanelBody,
      ids: ['siteId', 'panelId'],
      extraProblems: (b) => (b.parentPanelId !== undefined && b.parentPanelId !== null && !isSafeId(b.parentPanelId) ? ['parentPanelId: expected an id'] : []),
      toEvent: (b, p) => ({ type: 'PanelConfigured', siteId: p.siteId!, panelId: p.panelId!, name: b.name ?? '', parentPanelId: b.parentPanelId ?? null, limitKw: b.limitKw, maxCurrentA: b.maxCurrentA ?? null }),
      present: (e, a) => {
        if (e.type !== 'PanelConfigured') return {};
        const { type: _type, ...rest } = e;
        return { ...logPlaceOf(a), ...rest };
      },
    }),
    configRoute({
      log: d.log,
      method: 'POST',
      path: '/api/v1/sites/{siteId}/limit-events',
      summary: 'Schedule a limit event: the connection limit is at most limitKw from start to end (demand response)',
      description:
        'Appends LimitEventScheduled to fleet.config; 201 with the new limitEventId. The optimizer re-plans at once and keeps the site (building and chargers) within the lowest limit in force. ' +
        'source names the requester (default api; e.g. openadr:<ven>), reference its own id of the event.',
      codec: LimitEventBody,
      ids: ['siteId'],
      okStatus: 201,
      extraProblems: (b) => (Date.parse(b.end) > Date.parse(b.start) ? [] : ['end: expected after start']),
      toEvent: (b, p) => ({
        type: 'LimitEventScheduled',
        siteId: p.siteId!,
        limitEventId: randomUUID(),
        startAt: Date.parse(b.start),
        endAt: Date.parse(b.end),
        limitKw: b.limitKw,
        source: b.source ?? 'api',
        reference: b.reference ?? null,
      }),
      present: (e, a) => (e.type === 'LimitEventScheduled' ? { ...logPlaceOf(a), siteId: e.siteId, limitEventId: e.limitEventId, start: iso(e.startAt), end: iso(e.endAt), limitKw: e.limitKw, source: e.source, reference: e.reference } : {}),
    }),
    {
      method: 'DELETE',
      path: '/api/v1/sites/{siteId}/limit-events/{limitEventId}',
      scope: 'config:write',
      tag: 'configuration',
      summary: 'Cancel a limit event',
      description: 'Appends LimitEventCancelled to fleet.config; the optimizer re-plans at once. 404 when the projection does not know the event for this site.',
      handle: async (req, res, params) => {
        const problems = [...idProblem('siteId', params.siteId), ...idProblem('limitEventId', params.limitEventId)];
        if (problems.length) return sendProblem(res, 400, 'Invalid request', problems);
        const { rows } = await d.pool.query(`SELECT 1 FROM ${s}.site_limit_events WHERE limit_event_id = $1 AND site_id = $2`, [params.limitEventId, params.siteId]);
        if (!rows.length) return sendProblem(res, 404, 'Unknown limit event', [`limitEventId: no limit event ${params.limitEventId} on site ${params.siteId}`]);
        const a = await d.log.append({ type: 'LimitEventCancelled', siteId: params.siteId!, limitEventId: params.limitEventId! }, principalOf(req)?.id ?? 'unknown');
        sendJson(res, 200, { ...logPlaceOf(a), siteId: params.siteId, limitEventId: params.limitEventId, cancelled: true });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/sites/{siteId}/limit-events',
      scope: 'history:read',
      tag: 'configuration',
      summary: "A site's limit events, earliest start first, cancelled ones with cancelledAt",
      description: 'From the projection site_limit_events (fleet.config LimitEventScheduled / LimitEventCancelled).',
      handle: async (_req, res, params) => {
        const problems = idProblem('siteId', params.siteId);
        if (problems.length) return sendProblem(res, 400, 'Invalid request', problems);
        const { rows } = await d.pool.query<Record<string, unknown>>(
          `SELECT limit_event_id, start_at, end_at, limit_kw, source, reference, scheduled_by, scheduled_at, cancelled_at FROM ${s}.site_limit_events WHERE site_id = $1 ORDER BY start_at, limit_event_id`,
          [params.siteId],
        );
        sendJson(res, 200, {
          siteId: params.siteId,
          limitEvents: rows.map((r) => ({
            limitEventId: r.limit_event_id,
            start: iso(r.start_at),
            end: iso(r.end_at),
            limitKw: r.limit_kw,
            source: r.source,
            reference: r.reference,
            scheduledBy: r.scheduled_by,
            scheduledAt: iso(r.scheduled_at),
            cancelledAt: r.cancelled_at === null ? null : iso(r.cancelled_at),
          })),
        });
      },
    },
  ];
};
