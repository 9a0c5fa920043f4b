import { CliCommand, parseArgs } from '../command';
import { loadConfig } from '../../common/config';
import { createContext } from '../../common/context';
import { quoteIdent } from '../../common/db';
import { progress } from '../../../test/bench/benchmark';
import { replay } from '../../../streams/replay/replay';
import { schemaExists } from '../../../streams/replay/digest';
import { projectionsSchema } from '../../../streams/projections/service';

const stamp = () => new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);

export const command: CliCommand = {
  name: 'replay',
  summary: 'Rebuild every projection from offset 0 into a fresh schema and compare it with the live one',
  usage: [
    'Usage: voltstream replay [--schema <fresh>] [--compare] [--live <schema>] [--keep | --drop] [--timeout <seconds>]',
    '',
    'Reads charging.events, telematics.readings and fleet.config from offset 0 and rebuilds every projection table into',
    'a fresh PostgreSQL schema (default replay_<timestamp>), with a progress bar.',
    '',
    '  --compare        compare with the live schema, table by table (row count and an order-independent digest: the sum',
    '                   of a 64-bit md5 hash per row), at exactly the live projections\' positions (snapshot); prints the',
    '                   differences with example keys and exits 1 when any table differs',
    '  --live <schema>  the live schema (default PROJECTIONS_SCHEMA or projections)',
    '  --keep / --drop  keep or drop the rebuilt schema (default: keep it, except after a comparison without differences)',
    '  --timeout <s>    give up after this long (default 1800)',
  ].join('\n'),
  run: async (args) => {
    const { flags } = parseArgs(args);
    const schema = typeof flags.schema === 'string' ? flags.schema : `replay_${stamp()}`;
    const live = typeof flags.live === 'string' ? flags.live : projectionsSchema();
    const compare = flags.compare === true || typeof flags.live === 'string';
    try {
      quoteIdent(schema);
      quoteIdent(live);
    } catch (e) {
      console.error(`voltstream replay: ${(e as Error).message}`);
      return 2;
    }
    const ctx = createContext(loadConfig(), 'replay');
    try {
      if (await schemaExists(ctx.pool, schema)) {
        console.error(`voltstream replay: schema ${schema} already holds projections; give a fresh --schema`);
        return 2;
      }
      if (compare && !(await schemaExists(ctx.pool, live))) {
        console.error(`voltstream replay: no live projections in schema ${live} to compare with`);
        return 2;
      }
      console.log(`Rebuilding projections into schema ${schema}${compare ? `, to compare with ${live}` : ''}`);
      let bar: ReturnType<typeof progress> | undefined;
      const result = await replay({
        kafka: ctx.kafka,
        serde: ctx.serde,
        pool: ctx.pool,
        log: ctx.log,
        schema,
        ...(compare ? { liveSchema: live } : {}),
        timeoutMs: Number(flags.timeout ?? 1800) * 1000,
        onProgress: (done, total) => {
          bar ??= progress('replay', total);
          bar.tick(Math.min(done, total), 'records');
        },
      });
      console.log(`Rebuilt ${result.records} records in ${(result.ms / 1000).toFixed(1)} s (${Math.round(result.records / Math.max(result.ms / 1000, 0.001))} records/s)`);
      const liveBy = new Map((result.live ?? []).map((d) => [d.table, d]));
      console.log(`\n${'table'.padEnd(24)} ${'rows'.padStart(10)}  ${'digest'.padEnd(22)}${compare ? ' live' : ''}`);
      for (const d of result.rebuilt) {
        const l = liveBy.get(d.table);
        const verdict = !compare ? '' : l && l.rows === d.rows && l.digest === d.digest ? ' equal' : ` DIFFERENT (live: ${l?.rows ?? '-'} rows, ${l?.digest ?? '-'})`;
        console.log(`${d.table.padEnd(24)} ${String(d.rows).padStart(10)}  ${d.digest.padEnd(22)}${verdict}`);
      }
      const diffs = result.differences ?? [];
      if (compare) {
        for (const d of diffs) {
          console.log(`\n${d.table}: live ${d.live?.rows ?? 0} rows, rebuilt ${d.rebuilt?.rows ?? 0} rows`);
          if (d.examples?.onlyLive.length) console.log(`  only in live (or different), e.g. ${JSON.stringify(d.examples.onlyLive)}`);
          if (d.examples?.onlyRebuilt.length) console.log(`  only in rebuilt (or different), e.g. ${JSON.stringify(d.examples.onlyRebuilt)}`);
        }
        console.log(diffs.length === 0 ? `\nNo differences: ${live} equals a rebuild from offset 0.` : `\n${diffs.length} table(s) differ.`);
      }
      const drop = flags.drop === true || (flags.keep !== true && compare && diffs.length === 0);
      if (drop) await ctx.pool.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
      else console.log(`Rebuilt projections kept in schema ${schema}.`);
      return diffs.length === 0 ? 0 : 1;
    } finally {
      await ctx.pool.end();
    }
  },
};
