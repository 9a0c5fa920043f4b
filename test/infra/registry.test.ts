import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { createDurableProducer, DURABLE_ACKS } from '../../services/common/kafka';
import { createTopicSerde, subjectOf } from '../../schemas/registry';
import { Topics } from '../../schemas/topics';
import { fromAvro, toAvro, ChargingEvent } from '../../schemas/events';
import { GENESIS_HASH } from '../../schemas/frame-chain';
import { plainRegistryClient, readTopicUntil, testConfig, testKafka, uniq } from '../support/stack';
import { APICURIO_VERSION } from '../../infra/versions';

describe(`schema registry (Apicurio ${APICURIO_VERSION}, Confluent-compatible API)`, () => {
  const url = testConfig().schemaRegistryUrl;

  test('a record written to a contract topic by the project is decoded by a plain client knowing only the registry URL', async () => {
    const serde = createTopicSerde(url);
    const chargePointId = uniq('CP-reg');
    const frame = {
      frameId: uniq('frame'),
      chargePointId,
      gatewayId: 'gw-test',
      protocol: 'ocpp1.6',
      direction: 'IN',
      kind: 'CALL',
      messageTypeId: 2,
      uniqueId: 'u-1',
      action: 'Heartbeat',
      payloadJson: '{}',
      errorCode: null,
      errorDescription: null,
      raw: '[2,"u-1","Heartbeat",{}]',
      seq: 1,
      receivedAt: Date.now(),
      commandId: null,
      prevHash: GENESIS_HASH,
      hash: 'f'.repeat(64),
    };
    const producer = createDurableProducer(testKafka('reg'));
    await producer.connect();
    const [written] = await producer.send({ topic: Topics.ocppFrames, acks: DURABLE_ACKS, messages: [{ key: chargePointId, value: await serde.encode(Topics.ocppFrames, frame) }] });
    await producer.disconnect();

    const records = await readTopicUntil<typeof frame>(Topics.ocppFrames, (rs) => rs.length > 0, {
      filter: (r) => r.key === chargePointId,
      startAt: new Map([[written!.partition, written!.baseOffset!]]),
    });
    expect(records).toHaveLength(1);
    expect(records[0]!.value).toEqual(frame);
  });

  test('charging.events unions round-trip: the domain shape in, the wrapped Avro union on the wire, the domain shape out', async () => {
    const serde = createTopicSerde(url);
    const event: ChargingEvent = {
      eventId: 'e-1',
      chargePointId: 'CP-1',
      occurredAt: 1_700_000_000_000,
      source: { topic: 'ocpp.frames', partition: 0, offset: 42 },
      body: { type: 'SessionStarted', sessionId: 's-1', transactionId: '7', connectorId: 1, idTag: null, meterStartWh: 1200 },
    };
    const buf = await serde.encode(Topics.chargingEvents, toAvro(event));
    expect(buf[0]).toBe(0); // Confluent wire format: magic byte, then the 4-byte schema id
    expect(buf.readInt32BE(1)).toBe(serde.schemaId(Topics.chargingEvents));
    const plain = (await plainRegistryClient().decode(buf)) as Record<string, unknown>;
    expect(plain.body).toEqual({ 'io.voltstream.events.SessionStarted': { sessionId: 's-1', transactionId: '7', connectorId: 1, idTag: null, meterStartWh: 1200 } });
    expect(fromAvro(plain)).toEqual(event);
  });

  test('registration is idempotent: the same schema keeps its id', async () => {
    const a = createTopicSerde(url);
    const b = createTopicSerde(url);
    const spec = { name: Topics.telematicsReadings, schemaFile: 'telematics.readings.avsc', key: 'vehicleId', producer: 'test', configs: {} };
    expect(await a.ensure(spec)).toBe(await b.ensure(spec));
  });

  test('under BACKWARD compatibility a breaking change is refused and a compatible one accepted', async () => {
    const registry = plainRegistryClient();
    const subject = subjectOf(uniq('compat-topic'));
    const v1 = { type: 'record', name: 'Reading', namespace: 'test', fields: [{ name: 'a', type: 'string' }] };
    const breaking = { ...v1, fields: [...v1.fields, { name: 'b', type: 'int' }] };
    const compatible = { ...v1, fields: [...v1.fields, { name: 'c', type: ['null', 'int'], default: null }] };
    const put = await fetch(`${url}/config/${encodeURIComponent(subject)}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: 'BACKWARD' }),
    });
    expect(put.status).toBe(200);
    const first = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject });
    await expect(registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(breaking) }, { subject })).rejects.toThrow();
    const second = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(compatible) }, { subject });
    expect(second.id).not.toBe(first.id);
    const versions = (await (await fetch(`${url}/subjects/${encodeURIComponent(subject)}/versions`)).json()) as number[];
    expect(versions).toHaveLength(2);
  });
});
