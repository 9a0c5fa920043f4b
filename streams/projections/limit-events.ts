import { Migration } from '../../infra/database/migrate';
import { commentSql, createTableSql, TableDef } from '../sink/table';
import { DocumentProjection } from './projection';

/** A site's limit events (fleet.config LimitEventScheduled, LimitEventCancelled): time-bounded reductions of the
 *  connection limit, as scheduled and whether cancelled. Read by GET /api/v1/sites/{id}/limit-events
 *  (services/api/routes/site-limits.ts). */

const t = (name: string, type: TableDef['columns'][number]['type'], doc: string, nullable = false) => ({ name, type, doc, nullable });

export const limitEventsTable: TableDef = {
  name: 'site_limit_events',
  doc: 'Limit events of a site (demand response): the connection limit is at most limit_kw from start_at to end_at unless cancelled.',
  key: ['limit_event_id'],
  columns: [
    t('limit_event_id', 'text', 'limit event id'),
    t('site_id', 'text', 'site'),
    t('start_at', 'timestamptz', 'start'),
    t('end_at', 'timestamptz', 'end'),
    t('limit_kw', 'double', 'connection limit while in force, kW'),
    t('source', 'text', "who asked: api, openadr:<ven>, ..."),
    t('reference', 'text', "the requester's own id of the event", true),
    t('scheduled_by', 'text', 'API key id or component'),
    t('scheduled_at', 'timestamptz', 'time of the LimitEventScheduled event'),
    t('cancelled_at', 'timestamptz', 'time of the LimitEventCancelled event', true),
  ],
};

export const limitEventsMigration: Migration = {
  id: 'streams-limit-events-001-table',
  up: () => [createTableSql(limitEventsTable), ...commentSql(limitEventsTable), `CREATE INDEX IF NOT EXISTS site_limit_events_site_idx ON site_limit_events (site_id, start_at)`],
};

export const limitEventsProjection: DocumentProjection = {
  kind: 'document',
  table: limitEventsTable,
  keyOf: (i) => (i.kind === 'config' && (i.config.body.type === 'LimitEventScheduled' || i.config.body.type === 'LimitEventCancelled') ? [i.config.body.limitEventId] : undefined),
  evolve: (row, i) => {
    if (i.kind !== 'config') return row;
    const b = i.config.body;
    if (b.type === 'LimitEventScheduled') {
      return { limit_event_id: b.limitEventId, site_id: b.siteId, start_at: b.startAt, end_at: b.endAt, limit_kw: b.limitKw, source: b.source, reference: b.reference, scheduled_by: i.config.actor, scheduled_at: i.config.at, cancelled_at: null };
    }
    if (b.type === 'LimitEventCancelled') return row ? { ...row, cancelled_at: row.cancelled_at ?? i.config.at } : row;
    return row;
  },
};
