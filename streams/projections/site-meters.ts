import { Migration } from '../../infra/database/migrate';
import { Dialect } from '../../infra/database/dialect';
import { commentSql, createTableSql, TableDef } from '../sink/table';
import { AppendProjection } from './projection';

/** site_meter_readings: every reading of a site's grid-connection meter and sub-meters (site.meter-readings), and
 *  building_load_15m: the building's load per 15-minute bucket = the connection meter's mean import − the site's
 *  chargers' mean power (site_load_15m), the rule of streams/site-load/building-load.ts. The view is what
 *  GET /api/v1/sites/{siteId}/building-load serves and the history a base-load forecast (streams/site-load/forecast.ts)
 *  is built from. A reading re-sent with the same readingId is written once (the key). */
const t = (name: string, type: TableDef['columns'][number]['type'], doc: string, nullable = false) => ({ name, type, doc, nullable });
const n = (name: string, type: TableDef['columns'][number]['type'], doc: string) => t(name, type, doc, true);

export const siteMeterReadingsTable: TableDef = {
  name: 'site_meter_readings',
  doc: 'Every reading of a site meter (site.meter-readings): the grid connection (role connection) and sub-meters of panels (role submeter). kW, A, V.',
  key: ['measured_at', 'reading_id'],
  time: 'measured_at',
  segmentBy: 'site_id',
  columns: [
    t('measured_at', 'timestamptz', 'when the meter measured it'),
    t('reading_id', 'text', 'deterministic from site, meter and measuredAt'),
    t('site_id', 'text', 'site'),
    t('meter_id', 'text', 'meter, as configured for the site (services/site-meters)'),
    t('role', 'text', 'connection or submeter'),
    n('panel_id', 'text', 'the panel a sub-meter measures; null for the connection meter'),
    t('import_kw', 'double', 'active power imported, total over the phases, kW; negative when exporting'),
    n('l1_a', 'double', 'current on L1, A'),
    n('l2_a', 'double', 'current on L2, A'),
    n('l3_a', 'double', 'current on L3, A'),
    n('voltage_v', 'double', 'phase-to-neutral voltage, V'),
    t('source', 'text', 'push or modbus'),
    t('received_at', 'timestamptz', 'when services/site-meters received it'),
  ],
};

export const BUILDING_LOAD_VIEW = 'building_load_15m';

export const buildingLoadViewSql = (d: Dialect): string =>
  `CREATE OR REPLACE VIEW ${BUILDING_LOAD_VIEW} AS
   WITH connection AS (
     SELECT ${d.timeBucket('15 minutes', 'measured_at')} AS bucket, site_id,
       avg(import_kw) AS connection_kw, max(import_kw) AS connection_peak_kw, count(*) AS readings
     FROM site_meter_readings WHERE role = 'connection'
     GROUP BY 1, 2)
   SELECT c.bucket, c.site_id, c.connection_kw, c.connection_peak_kw,
     COALESCE(l.avg_power_kw, 0) AS chargers_kw,
     c.connection_kw - COALESCE(l.avg_power_kw, 0) AS building_kw,
     c.readings
   FROM connection c
   LEFT JOIN site_load_15m l ON l.site_id = c.site_id AND l.bucket = c.bucket`;

export const siteMetersMigration: Migration = {
  id: 'streams-site-meters-001',
  up: (d) => [
    createTableSql(siteMeterReadingsTable),
    ...commentSql(siteMeterReadingsTable),
    ...d.timeSeries(siteMeterReadingsTable.name, 'measured_at', { segmentBy: 'site_id', chunk: '7 days' }),
    buildingLoadViewSql(d),
    `COMMENT ON VIEW ${BUILDING_LOAD_VIEW} IS 'Building load per 15-minute bucket and site: connection meter mean import (kW) minus the chargers'' mean power (site_load_15m); charger load comes from the load aggregate, refreshed by the projections service'`,
  ],
};

export const siteMeterReadingsProjection: AppendProjection = {
  kind: 'append',
  table: siteMeterReadingsTable,
  rows: (i) => {
    if (i.kind !== 'meterReading') return [];
    const r = i.meterReading;
    return [
      {
        measured_at: r.measuredAt,
        reading_id: r.readingId,
        site_id: r.siteId,
        meter_id: r.meterId,
        role: r.role,
        panel_id: r.panelId,
        import_kw: r.importKw,
        l1_a: r.l1A,
        l2_a: r.l2A,
        l3_a: r.l3A,
        voltage_v: r.voltageV,
        source: r.source,
        received_at: r.receivedAt,
      },
    ];
  },
};
