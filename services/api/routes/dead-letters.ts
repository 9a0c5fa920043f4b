import { Pool } from 'pg';
import { quoteIdent } from '../../common/db';
import { sendJson, sendProblem } from '../../common/http';
import { ApiRoute } from '../server';
import { maxLimit, parseRange } from '../pagination';
import { signCursor, verifyCursor } from '../cursor';
import { signingKey } from '../signing-key';
import { isSafeId } from '../codecs';

/** GET /api/v1/dead-letters (scope history:read): the records the projections set aside (streams/sink/dead-letter.ts),
 *  from the table dead_letters the sink writes in the same transaction that steps over them; the same records are on
 *  the topic streams.dead-letter. A time range over when they were set aside, keyset cursor, optional consumer/topic. */
const path = '/api/v1/dead-letters';
const sourceKey = `d.topic || '/' || d.partition || '/' || d."offset" || '/' || d.consumer`;

export const deadLetterRoutes = (pool: Pool, projectionSchema: string, cursorKey: Buffer = signingKey('history-cursor')): ApiRoute[] => [
  {
    method: 'GET',
    path,
    scope: 'history:read',
    tag: 'history',
    summary: 'Records a stream processor could not apply and set aside, with the reason (their partitions went on)',
    description:
      'From projections.dead_letters, ordered by the time each was set aside. `value` is the source record as in the log (base64, Confluent wire format). reasonClass: undecodable, unapplicable, data-exception, constraint-violation, cardinality-violation, program-limit.',
    query: [
      { name: 'from', description: 'start of the range, inclusive (ISO 8601); default: 24 hours before `to`', schema: { type: 'string', format: 'date-time' } },
      { name: 'to', description: 'end of the range, exclusive (ISO 8601); default: now', schema: { type: 'string', format: 'date-time' } },
      { name: 'limit', description: `rows per page, 1..${maxLimit} (default 500)`, schema: { type: 'integer', minimum: 1, maximum: maxLimit } },
      { name: 'cursor', description: 'nextCursor of the previous page' },
      { name: 'consumer', description: 'only records set aside by this consumer (e.g. projections)' },
      { name: 'topic', description: 'only records of this source topic' },
    ],
    handle: async (_req, res, _params, url) => {
      const range = parseRange(url, (c) => verifyCursor(cursorKey, path, c, ['text']));
      const problems = range.ok ? [] : [...range.problems];
      const values: unknown[] = [];
      const where: string[] = [];
      for (const [name, column] of [['consumer', 'd.consumer'], ['topic', 'd.topic']] as const) {
        const v = url.searchParams.get(name);
        if (v === null || v === '') continue;
        if (!isSafeId(v)) problems.push(`${name}: expected 1-128 letters, digits or . _ : @ -, got ${JSON.stringify(v)}`);
        values.push(v);
        where.push(`${column} = $${values.length}`);
      }
      if (!range.ok || problems.length) return sendProblem(res, 400, 'Invalid query', problems);
      const { from, to, limit, after } = range.query;
      values.push(from.toISOString(), to.toISOString());
      where.push(`d.dead_at >= $${values.length - 1}`, `d.dead_at < $${values.length}`);
      if (after) {
        values.push(String(after[0]), after[1]);
        where.push(`(d.dead_at, ${sourceKey}) > (TIMESTAMPTZ 'epoch' + $${values.length - 1}::bigint * INTERVAL '1 microsecond', $${values.length}::text)`);
      }
      values.push(limit + 1);
      const { rows } = await pool
        .query<{ dead_at: Date; consumer: string; topic: string; partition: number; offset: string; key: string | null; record_at: Date | null; reason_class: string; reason: string; value: Buffer | null; _t: string; _k: string }>(
        `SELECT d.dead_at, d.consumer, d.topic, d.partition, d."offset"::text AS "offset", d.key, d.record_at, d.reason_class, d.reason, d.value,
           (EXTRACT(EPOCH FROM d.dead_at) * 1000000)::bigint::text AS _t, ${sourceKey} AS _k
         FROM ${quoteIdent(projectionSchema)}.dead_letters d WHERE ${where.join(' AND ')}
         ORDER BY d.dead_at, _k LIMIT $${values.length}`,
          values,
        )
        // Nothing set aside yet on a database the projections have not started on.
        .catch((e: { code?: string }) => (e.code === '42P01' ? { rows: [] } : Promise.reject(e)));
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      const nextCursor = rows.length > limit && last ? signCursor(cursorKey, path, [last._t, last._k]) : null;
      sendJson(res, 200, {
        from: from.toISOString(),
        to: to.toISOString(),
        limit,
        items: page.map((r) => ({
          deadAt: r.dead_at.toISOString(),
          consumer: r.consumer,
          topic: r.topic,
          partition: r.partition,
          offset: r.offset,
          key: r.key,
          recordAt: r.record_at?.toISOString() ?? null,
          reasonClass: r.reason_class,
          reason: r.reason,
          value: r.value?.toString('base64') ?? null,
        })),
        nextCursor,
      });
    },
  },
];
