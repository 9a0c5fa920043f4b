import { Kafka } from 'kafkajs';
import { toAvro } from '../../schemas/events';
import { configKey, configToAvro } from '../../schemas/fleet-config';
import { Topics } from '../../schemas/topics';
import { startProjections } from '../../streams/projections/run';
import { foldDocuments, ProjectionInput } from '../../streams/projections/projection';
import { Routine, routineInputs } from '../../streams/projections/vehicle-forecast/history-fixture';
import { vehicleForecastHistoryProjection, vehicleForecastHistoryTable } from '../../streams/projections/vehicle-forecast/projection';
import { replay } from '../../streams/replay/replay';
import { endOffsets } from '../../streams/sink/pg-sink';
import { fromSql } from '../../streams/sink/table';
import { freshPgSchema, uniq } from '../support/stack';
import { createTestTopics, deleteTestTopics, produce, quietLog, testKafka, testSerde, TestTopics } from './support';

/** vehicle_forecast_history on the real stack: the projections service folds the three topics (config, readings on
 *  3 partitions, matches on 3 partitions, in whatever interleaving the consumer gives), the rows equal the pure fold
 *  of the log in time order, and `replay --compare` rebuilds them to the same digest. */
jest.setTimeout(240_000);

const tz = 'Europe/Berlin';
const monday = Date.UTC(2026, 10, 1, 23, 0);
const workday = (d: number) => (1 + d) % 7 >= 1 && (1 + d) % 7 <= 5;
const routine = (k: number): Routine => ({
  vehicleId: uniq(`V${k}`), siteId: 'north', batteryCapacityKwh: 60 + 20 * (k % 2), timeZone: tz, from: monday, days: 21,
  returnOn: (d) => (workday(d) ? { minute: 16 * 60 + 17 * ((k + d) % 9), socPct: 20 + ((3 * k + d) % 25) } : null),
  departNextDay: (d) => (workday(d + 1) ? { minute: 5 * 60 + 10 * k, requiredSocPct: 75 + k } : null),
});

describe('vehicle_forecast_history through the projections service and replay --compare', () => {
  let kafka: Kafka;
  let topics: TestTopics;
  const serde = testSerde();
  let live: Awaited<ReturnType<typeof freshPgSchema>>;
  const inputs: ProjectionInput[] = Array.from({ length: 6 }, (_, k) => routineInputs(routine(k))).flat();

  beforeAll(async () => {
    kafka = testKafka('forecast-replay');
    topics = await createTestTopics(kafka);
    live = await freshPgSchema('streams_fc_live');
    const config = inputs.flatMap((x) => (x.kind === 'config' ? [{ key: configKey(x.config.body), value: configToAvro(x.config) }] : []));
    const readings = inputs.flatMap((x) => (x.kind === 'reading' ? [{ key: x.reading.vehicleId, value: x.reading }] : []));
    const events = inputs.flatMap((x) => (x.kind === 'event' ? [{ key: x.event.chargePointId, value: toAvro(x.event) }] : []));
    await produce(kafka, serde, topics.config, Topics.fleetConfig, config);
    await produce(kafka, serde, topics.events, Topics.chargingEvents, events);
    await produce(kafka, serde, topics.readings, Topics.telematicsReadings, readings);
    const running = await startProjections({ kafka, serde, pool: live.pool, log: quietLog, schema: live.schema, topics: { events: topics.events, readings: topics.readings, config: topics.config } });
    await running.sink.reached(await endOffsets(kafka, [topics.events, topics.readings, topics.config]));
    await running.stop();
  });

  afterAll(async () => {
    await live?.drop();
    if (kafka && topics) await deleteTestTopics(kafka, topics);
  });

  it('the live rows are the pure fold of the log, whatever the interleaving the consumer gave', async () => {
    const { rows } = await live.pool.query<Record<string, unknown>>(`SELECT * FROM "${live.schema}".vehicle_forecast_history ORDER BY vehicle_id`);
    const got = rows.map((r) => Object.fromEntries(vehicleForecastHistoryTable.columns.map((c) => [c.name, fromSql(c, r[c.name])]))).sort((a, b) => String(a.vehicle_id).localeCompare(String(b.vehicle_id)));
    const expected = [...foldDocuments(vehicleForecastHistoryProjection, inputs).values()].sort((a, b) => String(a.vehicle_id).localeCompare(String(b.vehicle_id)));
    expect(got).toHaveLength(6);
    expect(got).toEqual(JSON.parse(JSON.stringify(expected)));
    expect((got[0]!.arrivals as unknown[]).length).toBeGreaterThan(10);
  });

  it('replay --compare rebuilds it to the same digest', async () => {
    const fresh = uniq('streams_fc_rebuilt').replace(/-/g, '_');
    const result = await replay({ kafka, serde, pool: live.pool, log: quietLog, schema: fresh, liveSchema: live.schema, topics: { events: topics.events, readings: topics.readings, config: topics.config } });
    await live.pool.query(`DROP SCHEMA "${fresh}" CASCADE`);
    expect(result.differences).toEqual([]);
    expect(result.rebuilt.find((d) => d.table === 'vehicle_forecast_history')?.rows).toBe(6);
  });
});
