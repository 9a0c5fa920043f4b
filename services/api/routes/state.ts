import { Pool } from 'pg';
import { quoteIdent } from '../../common/db';
import { sendJson, sendProblem } from '../../common/http';
import { ApiRoute } from '../server';
import { isSafeId } from '../codecs';
import { Schemas } from './history';

/** GET /api/v1/sites/{siteId}/state (scope history:read): the site now, from the projections — its chargers with
 *  connection and connector status, the vehicles connected (active sessions) with the SoC to trust and its source,
 *  and the active charging profile per charger: the current slot of the latest optimizer plan, with the outcome of
 *  the last profile command the charger answered. */
interface PlanVehicle {
  vehicleId: string;
  chargePointId: string | null;
  connectorId: number | null;
  powerKw: number[];
  targetKwh: number;
  plannedKwh: number;
  shortfallKwh: number;
  departAt: number | null;
}

const iso = (d: unknown) => (d instanceof Date ? d.toISOString() : d === null || d === undefined ? null : String(d));
const numOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export const stateRoutes = (pool: Pool, schemas: Schemas, now: () => number = Date.now): ApiRoute[] => [
  {
    method: 'GET',
    path: '/api/v1/sites/{siteId}/state',
    scope: 'history:read',
    tag: 'state',
    summary: 'A site now: chargers and connectors, connected vehicles with SoC and its source, active charging profiles',
    handle: async (_req, res, params) => {
      const siteId = params.siteId!;
      if (!isSafeId(siteId)) return sendProblem(res, 400, 'Invalid path', [`siteId: expected 1-128 letters, digits or . _ : @ -, got ${JSON.stringify(siteId)}`]);
      const P = quoteIdent(schemas.projections);
      const at = now();
      const site = (await pool.query(`SELECT * FROM ${P}.fleet_sites WHERE site_id = $1`, [siteId])).rows[0] as Record<string, unknown> | undefined;
      const chargers = (
        await pool.query(
          `SELECT c.charge_point_id, c.max_power_kw, c.owner_partner_id, c.phases, c.current_type, o.online, o.online_now, o.protocol, o.vendor, o.model,
             o.firmware_version, o.last_seen_at, o.connected_at, o.disconnected_at
           FROM ${P}.fleet_chargers c LEFT JOIN ${P}.charger_online o ON o.charge_point_id = c.charge_point_id
           WHERE c.site_id = $1 ORDER BY c.charge_point_id`,
          [siteId],
        )
      ).rows as Record<string, unknown>[];
      if (!site && chargers.length === 0) return sendProblem(res, 404, 'Not Found', [`no site ${siteId}: neither configured nor with chargers`]);
      const ids = chargers.map((c) => c.charge_point_id as string);
      const connectors = (await pool.query(`SELECT * FROM ${P}.connector_status WHERE charge_point_id = ANY($1) ORDER BY charge_point_id, connector_id`, [ids])).rows as Record<string, unknown>[];
      const sessions = (
        await pool.query(
          `SELECT s.session_id, s.charge_point_id, s.connector_id, s.started_at, s.energy_wh, s.id_tag, s.vehicle_id, s.match_confidence, s.match_method,
             s.charger_soc_pct, s.charger_soc_at, v.soc_pct, v.source, v.soc_at, v.uncertainty_pct
           FROM ${P}.sessions s LEFT JOIN ${P}.vehicle_soc v ON v.vehicle_id = s.vehicle_id
           WHERE s.active AND s.charge_point_id = ANY($1) ORDER BY s.charge_point_id, s.connector_id`,
          [ids],
        )
      ).rows as Record<string, unknown>[];
      const plan = (await pool.query(`SELECT plan_id, decided_at, horizon_start, slot_minutes, status, vehicles FROM ${P}.optimizer_plans WHERE site_id = $1 ORDER BY decided_at DESC, plan_id DESC LIMIT 1`, [siteId])).rows[0] as
        | { plan_id: string; decided_at: Date; horizon_start: Date; slot_minutes: number; status: string; vehicles: PlanVehicle[] }
        | undefined;
      const commands = (
        await pool.query(
          `SELECT DISTINCT ON (charge_point_id) charge_point_id, command_id, action, outcome, detail, at FROM ${P}.command_outcomes
           WHERE charge_point_id = ANY($1) AND action IN ('SetChargingProfile', 'ClearChargingProfile') ORDER BY charge_point_id, at DESC`,
          [ids],
        )
      ).rows as Record<string, unknown>[];

      const slot = plan ? Math.floor((at - plan.horizon_start.getTime()) / (plan.slot_minutes * 60_000)) : -1;
      const activeProfile = (cp: string) => {
        const cmd = commands.find((c) => c.charge_point_id === cp);
        const lastCommand = cmd ? { commandId: cmd.command_id, action: cmd.action, outcome: cmd.outcome, detail: cmd.detail, at: iso(cmd.at) } : null;
        const vs = plan?.vehicles.filter((v) => v.chargePointId === cp) ?? [];
        if (!plan || vs.length === 0 || slot < 0 || vs.every((v) => slot >= v.powerKw.length)) return lastCommand ? { plan: null, lastCommand } : null;
        const slotStart = plan.horizon_start.getTime() + slot * plan.slot_minutes * 60_000;
        return {
          plan: {
            planId: plan.plan_id,
            decidedAt: plan.decided_at.toISOString(),
            status: plan.status,
            slotStart: new Date(slotStart).toISOString(),
            slotEnd: new Date(slotStart + plan.slot_minutes * 60_000).toISOString(),
            powerKw: vs.reduce((sum, v) => sum + (v.powerKw[slot] ?? 0), 0),
            vehicles: vs.map((v) => ({ vehicleId: v.vehicleId, connectorId: v.connectorId, powerKw: v.powerKw[slot] ?? 0 })),
          },
          lastCommand,
        };
      };

      sendJson(res, 200, {
        siteId,
        at: new Date(at).toISOString(),
        site: site
          ? { name: site.name, gridLimitKw: Number(site.grid_limit_kw), location: { lat: Number(site.latitude), lon: Number(site.longitude) }, timezone: site.timezone, configuredAt: iso(site.configured_at) }
          : null,
        chargers: chargers.map((c) => ({
          chargePointId: c.charge_point_id,
          maxPowerKw: Number(c.max_power_kw),
          ownerPartnerId: c.owner_partner_id,
          online: c.online_now === true,
          connected: c.online === true,
          protocol: c.protocol ?? null,
          vendor: c.vendor ?? null,
          model: c.model ?? null,
          firmwareVersion: c.firmware_version ?? null,
          lastSeenAt: iso(c.last_seen_at),
          connectors: connectors
            .filter((k) => k.charge_point_id === c.charge_point_id)
            .map((k) => ({ connectorId: k.connector_id, status: k.status, errorCode: k.error_code, info: k.info, since: iso(k.since), sessionId: k.session_id })),
          activeProfile: activeProfile(c.charge_point_id as string),
        })),
        connectedVehicles: sessions.map((s) => {
          const soc =
            s.soc_pct !== null && s.soc_pct !== undefined
              ? { pct: Number(s.soc_pct), source: s.source, at: iso(s.soc_at), ageS: s.soc_at ? Math.round((at - (s.soc_at as Date).getTime()) / 1000) : null, uncertaintyPct: numOrNull(s.uncertainty_pct) }
              : s.charger_soc_pct !== null && s.charger_soc_pct !== undefined
                ? { pct: Number(s.charger_soc_pct), source: 'charger', at: iso(s.charger_soc_at), ageS: s.charger_soc_at ? Math.round((at - (s.charger_soc_at as Date).getTime()) / 1000) : null, uncertaintyPct: 0 }
                : null;
          return {
            vehicleId: s.vehicle_id ?? null,
            matchConfidence: numOrNull(s.match_confidence),
            matchMethod: s.match_method ?? null,
            chargePointId: s.charge_point_id,
            connectorId: s.connector_id,
            sessionId: s.session_id,
            idTag: s.id_tag ?? null,
            startedAt: iso(s.started_at),
            energyWh: Number(s.energy_wh),
            soc,
          };
        }),
      });
    },
  },
];
