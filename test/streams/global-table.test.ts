import { Consumer } from 'kafkajs';
import { catalog, renamed } from '../../schemas/catalog';
import { ConfigBody, ConfigEvent, configKey, configToAvro } from '../../schemas/fleet-config';
import { Topics } from '../../schemas/topics';
import { GlobalTable, startGlobalTable } from '../../streams/runtime/global-table';
import { testKafka, uniq, waitForValue } from '../support/stack';
import { produce, quietLog, testSerde } from './support';

/** The global table commits no offsets. When its consumer joins its group again (here: another member joins and
 *  leaves, two rebalances; the same happens after kafkajs restarts a consumer that crashed with a retriable error, or
 *  when a starved event loop loses the session), kafkajs starts the partitions over from the beginning. The live
 *  value must not go back to older configurations meanwhile, nor fold a record twice: a fold that keeps every
 *  record's event id in order shows both. */
jest.setTimeout(120000);

const kafka = testKafka('global-table');
const serde = testSerde();
const topic = uniq('test.gt.fleet.config');
const entry = renamed(catalog.fleetConfig, topic);

const charger = (i: number, maxPowerKw: number): ConfigEvent => {
  const body: ConfigBody = { type: 'ChargerConfigured', chargePointId: 'CP1', siteId: 's', maxPowerKw, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 };
  return { eventId: `e${i}`, at: i, actor: 'test', body };
};
const write = (events: readonly ConfigEvent[]) => produce(kafka, serde, topic, Topics.fleetConfig, events.map((e) => ({ key: configKey(e.body), value: configToAvro(e) })));

interface Seen {
  readonly ids: readonly string[];
  readonly maxPowerKw: number;
}

describe('a global table', () => {
  let table: GlobalTable<Seen> | undefined;
  let intruder: Consumer | undefined;

  beforeAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] });
    await admin.disconnect();
  });
  afterAll(async () => {
    await intruder?.disconnect().catch(() => undefined);
    await table?.stop();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  test('folds every record once, in order, through rejoins of its group: the live value never goes back', async () => {
    const first = Array.from({ length: 200 }, (_, i) => charger(i, i + 1));
    await write(first);
    const groupId = uniq('gt-group');
    table = await startGlobalTable({
      kafka,
      serde,
      log: quietLog,
      topic: entry,
      groupId,
      initial: { ids: [], maxPowerKw: 0 } as Seen,
      evolve: (s, e) => ({ ids: [...s.ids, e.eventId], maxPowerKw: e.body.type === 'ChargerConfigured' ? e.body.maxPowerKw : s.maxPowerKw }),
    });
    expect(table.current().ids).toEqual(first.map((e) => e.eventId));
    expect(table.current().maxPowerKw).toBe(200);

    // Watch the live value all along: the charger's power only ever grows in this history.
    const seen: number[] = [];
    const watch = setInterval(() => seen.push(table!.current().maxPowerKw), 2);

    // Another member joins the table's group (a rebalance: the table rejoins, and may lose the one partition) and
    // leaves again (the table rejoins and holds it): twice kafkajs resolves the partition's offset with nothing
    // committed, i.e. from the beginning.
    const joins: number[] = [];
    table.consumers[0]!.on(table.consumers[0]!.events.GROUP_JOIN, () => joins.push(Date.now()));
    intruder = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    await intruder.connect();
    await intruder.subscribe({ topic, fromBeginning: true });
    await intruder.run({ autoCommit: false, eachBatch: async () => undefined });
    await waitForValue('the table rejoined once', () => (joins.length >= 1 ? true : undefined), 60000);
    await intruder.disconnect();
    intruder = undefined;
    await waitForValue('the table rejoined after the other member left', () => (joins.length >= 2 ? true : undefined), 60000);

    const more = Array.from({ length: 50 }, (_, i) => charger(200 + i, 201 + i));
    await write(more);
    expect(await table.catchUp(30000)).toBe(true);
    // Time for a re-read from the beginning, if one were under way, to show.
    await new Promise((r) => setTimeout(r, 3000));
    clearInterval(watch);

    expect(table.current().ids).toEqual([...first, ...more].map((e) => e.eventId));
    expect(table.current().maxPowerKw).toBe(250);
    expect(seen.length).toBeGreaterThan(100);
    expect(seen.every((kw, i) => i === 0 || kw >= seen[i - 1]!)).toBe(true);
    expect(table.positions().get(`${topic}:0`)).toBe(250);
  });

  test('a table resumed from positions folds only what follows them', async () => {
    const resumed = await startGlobalTable({
      kafka,
      serde,
      log: quietLog,
      topic: entry,
      groupId: uniq('gt-resume'),
      initial: [] as string[],
      evolve: (s, e) => [...s, e.eventId],
      positions: new Map([[`${topic}:0`, 240]]),
    });
    try {
      expect(resumed.current()).toEqual(Array.from({ length: 10 }, (_, i) => `e${240 + i}`));
    } finally {
      await resumed.stop();
    }
  });
});

