import { Pool } from 'pg';
import { quoteIdent } from '../../services/common/db';
import { BuildingLoadSample } from './building-load';

/** The building-load history of a site from the projections (building_load_15m, streams/projections/site-meters.ts),
 *  oldest first: what buildForecast (./forecast.ts) takes. The one I/O piece of this folder. */
export const readBuildingLoadHistory = async (pool: Pool, projectionSchema: string, siteId: string, sinceMs: number, untilMs = Date.now()): Promise<BuildingLoadSample[]> => {
  const r = await pool.query<{ bucket: Date; building_kw: number }>(
    `SELECT bucket, building_kw FROM ${quoteIdent(projectionSchema)}.building_load_15m
     WHERE site_id = $1 AND bucket >= to_timestamp($2 / 1000.0) AND bucket < to_timestamp($3 / 1000.0) ORDER BY bucket`,
    [siteId, sinceMs, untilMs],
  );
  return r.rows.map((row) => ({ at: row.bucket.getTime(), kw: Number(row.building_kw) }));
};
