import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Pool } from 'pg';
import { Registry } from 'prom-client';
import { createTopicSerde } from '../../schemas/registry';
import { Topics, topicSpecs } from '../../schemas/topics';
import { createDurableProducer, DURABLE_ACKS, ensureTopics } from '../../services/common/kafka';
import { createLogger } from '../../services/common/log';
import { createHealth } from '../../services/common/health';
import { superviseConsumer } from '../../services/common/supervised-consumer';
import { quoteIdent } from '../../services/common/db';
import { FrameRecord } from '../../services/audit/frames';
import { loadOrCreateSigningKey } from '../../services/audit/checkpoint-keys';
import { latestHeads, readCheckpoints } from '../../services/audit/checkpoint-store';
import { startCheckpointer } from '../../services/audit/checkpointer';
import { testConfig, testKafka, uniq, waitForValue } from '../support/stack';
import { chain, conversation, voltstream } from './frames-fixture';

/** Signed checkpoints against someone who can write to Kafka: they delete a topic's records and write back a chain
 *  whose hashes all agree, one payload changed (TAG1 → TAG9). The hashes alone can't tell; the checkpoints, signed
 *  by a key Kafka never sees and stored in PostgreSQL, can. The log is a private copy of ocpp.frames (--topic). */
jest.setTimeout(240_000);

const serde = createTopicSerde(testConfig().schemaRegistryUrl);
const kafka = testKafka('audit-cp');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'voltstream-audit-cp-'));
const schema = uniq('audit_cp').replace(/-/g, '_');
const topic = uniq('audit.frames');
const env = { VOLTSTREAM_HOME: home, AUDIT_SCHEMA: schema };
const pool = new Pool({ connectionString: process.env.DATABASE_URL });
const t0 = Date.parse('2026-03-03T06:00:00.000Z') + Math.floor(Math.random() * 1000) * 1000;
const x = uniq('CP-CKPT');
const y = uniq('CP-GONE');
const genuine = chain(x, conversation(t0));

const write = async (frames: readonly FrameRecord[]) => {
  const producer = createDurableProducer(kafka);
  await producer.connect();
  try {
    // One batch, appended at once: the checkpointer sees all of it or none, so its checkpoints fall where the test expects.
    const messages = await Promise.all(frames.map(async (f) => ({ key: f.chargePointId, value: await serde.encode(topic, f) })));
    await producer.send({ topic, acks: DURABLE_ACKS, messages });
  } finally {
    await producer.disconnect();
  }
};

const checkpointed = (chargePointId: string, seq: number) =>
  waitForValue(`a checkpoint of ${chargePointId} at seq ${seq}`, async () => ((await readCheckpoints(pool, schema, chargePointId)) ?? []).find((c) => c.seq === seq), 60_000, 200);

beforeAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, { partitions: 1, replicationFactor: 1 }, [{ ...topicSpecs.find((s) => s.name === Topics.ocppFrames)!, name: topic }]);
  await admin.disconnect();
  await serde.ensure({ ...topicSpecs.find((s) => s.name === Topics.ocppFrames)!, name: topic });

  const checkpointer = await startCheckpointer({
    kafka, serde, pool, schema, topic, key: loadOrCreateSigningKey(home, {}), log: createLogger('checkpointer', 'warn'), everyMs: 200, groupId: uniq('audit-cp'),
  });
  try {
    await write([...genuine.slice(0, 3), ...chain(y, conversation(t0))]);
    await checkpointed(x, 3);
    await checkpointed(y, 9);
    await write(genuine.slice(3));
    await checkpointed(x, 9);
  } finally {
    await checkpointer.stop();
  }
});

afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  await pool.end();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  fs.rmSync(home, { recursive: true, force: true });
});

test('the key pair lives under VOLTSTREAM_HOME, the private key readable by its owner only', () => {
  expect(fs.statSync(path.join(home, 'audit', 'checkpoint-key.pem')).mode & 0o777).toBe(0o600);
  expect(fs.existsSync(path.join(home, 'audit', 'checkpoint-key.pub.pem'))).toBe(true);
});

test('the newest checkpoint of each charger is kept beside them, one row each, where a restart resumes', async () => {
  const all = (await readCheckpoints(pool, schema)) ?? [];
  expect(all.filter((c) => c.chargePointId === x).length).toBeGreaterThan(1);
  const newest = [x, y].map((id) => [id, Math.max(...all.filter((c) => c.chargePointId === id).map((c) => c.seq))]);
  expect((await latestHeads(pool, schema)).map((c) => [c.chargePointId, c.seq]).sort()).toEqual(newest.sort());
});

test('verify: the untouched log holds to its checkpoints', async () => {
  const r = await voltstream(['verify', '--topic', topic], env);
  expect(r.stdout).toContain(`ok      ${x}: 9 record(s), seq 1..9`);
  expect(r.stdout).toMatch(/checkpoints: \d+ checkpoint\(s\) of 2 charger\(s\) hold/);
  expect(r.code).toBe(0);
});

describe('after the log was rewritten in Kafka with a consistent hash chain', () => {
  const forged = chain(x, conversation(t0).map((s) => (s.uniqueId === 's1' && s.kind === 'CALL' ? { ...s, payload: { ...(s.payload as object), idTag: 'TAG9' } } : s)));
  const file = path.join(home, 'forged.jsonl');

  beforeAll(async () => {
    expect(forged[3]!.hash).not.toBe(genuine[3]!.hash);
    const admin = kafka.admin();
    await admin.connect();
    await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '-1' }] });
    await admin.disconnect();
    await write(forged);
    fs.writeFileSync(file, forged.map((frame, i) => JSON.stringify({ partition: 0, offset: String(i), frame }) + '\n').join(''));
  });

  test('its hashes alone still agree', async () => {
    const r = await voltstream(['verify', '--file', file, '--checkpoints', 'off'], env);
    expect(r.stdout).toContain(`ok      ${x}: 9 record(s), seq 1..9`);
    expect(r.code).toBe(0);
  });

  test('verify names the charger and the seq range since the last checkpoint that held, and the removed charger', async () => {
    const r = await voltstream(['verify', '--topic', topic], env);
    expect(r.stdout).toContain(`ok      ${x}: 9 record(s), seq 1..9`);
    expect(r.stdout).toContain(`BROKEN  ${x}: against its signed checkpoints, at seq 9`);
    expect(r.stdout).toContain('seq 4..9 rewritten');
    expect(r.stdout).toContain(`BROKEN  ${y}: against its signed checkpoints, at seq `);
    expect(r.stdout).toContain('is not in the log: records were removed');
    expect(r.code).toBe(1);
    const one = await voltstream(['verify', '--topic', topic, '--charger', x], env);
    expect(one.code).toBe(1);
    expect(one.stdout).not.toContain(y);
  });

  test('verify --file: a copy of the rewritten log fails the same way', async () => {
    const r = await voltstream(['verify', '--file', file, '--charger', x], env);
    expect(r.stdout).toContain(`BROKEN  ${x}: against its signed checkpoints, at seq 9`);
    expect(r.code).toBe(1);
  });

  test('a checkpoint edited in the store to match the rewrite has no valid signature', async () => {
    await pool.query(`UPDATE ${quoteIdent(schema)}.checkpoints SET hash = $1 WHERE charge_point_id = $2 AND seq = 9`, [forged[8]!.hash, x]);
    const r = await voltstream(['verify', '--topic', topic, '--charger', x], env);
    expect(r.stdout).toContain('has no valid signature of the trusted key: the checkpoint store was altered');
    expect(r.code).toBe(1);
  });
});

test('supervised, the checkpointer is ready once it has read the log, before its first commit of checkpoints', async () => {
  const health = createHealth(new Registry());
  const groupId = uniq('audit-cp-ready');
  const log = createLogger('checkpointer', 'warn');
  const supervisor = await superviseConsumer({ kafka, health, log }, 'audit-checkpoints', () =>
    startCheckpointer({ kafka, serde, pool, schema: `${schema}_ready`, topic, key: loadOrCreateSigningKey(home, {}), log, everyMs: 600_000, groupId }),
  );
  try {
    await waitForValue('the checkpointer running', async () => (health.report().parts['audit-checkpoints']?.status === 'running' ? true : undefined), 60_000, 200);
    const admin = kafka.admin();
    await admin.connect();
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    await admin.disconnect();
    expect(committed!.partitions.map((p) => p.offset)).toEqual(['-1']);
  } finally {
    await supervisor.stop();
    await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(`${schema}_ready`)} CASCADE`);
  }
});
