/** `voltstream stack up --brokers 3 --detach` from nothing, in a home and on ports of its own: three broker processes,
 *  KAFKA_BROKERS printed with all three, topics with 3 copies and min.insync.replicas 2, `stack status` naming each
 *  broker, `stack down` leaving no process behind. The registry and PostgreSQL are the running ones. */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ConfigResourceTypes } from 'kafkajs';
import { isAlive, readPid } from '../../infra/process';
import { readClusterRecord } from '../../infra/kafka/cluster';
import { createKafka } from '../../services/common/kafka';
import { Topics } from '../../schemas/topics';
import { freeClusterBase } from './support';

jest.setTimeout(300000);

const run = promisify(execFile);
const cli = path.join(__dirname, '..', '..', 'bin', 'voltstream.js');

test('stack up --brokers 3: three brokers, every address printed, replicated topics; status and down handle all three', async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'voltstream-brokers-'));
  const base = await freeClusterBase();
  const env = {
    ...process.env,
    VOLTSTREAM_MODE: 'development',
    VOLTSTREAM_HOME: home,
    KAFKA_BROKERS: `127.0.0.1:${base}`,
    KAFKA_CONTROLLER_PORT: String(base + 1),
    KAFKA_PARTNER_PORT: String(base + 2),
    DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  };
  const addresses = [0, 100, 200].map((d) => `127.0.0.1:${base + d}`);
  try {
    const up = await run(process.execPath, [cli, 'stack', 'up', '--brokers', '3', '--detach'], { env, timeout: 240000 });
    expect(up.stdout).toContain(`KAFKA_BROKERS=${addresses.join(',')}`);
    expect(up.stdout).toContain('3 copies, min.insync.replicas 2');

    const record = readClusterRecord(path.join(home, 'kafka'));
    expect(record._tag === 'Right' && record.right?.nodes.map((n) => n.address)).toEqual(addresses);
    const pids = [path.join(home, 'kafka'), path.join(home, 'kafka', 'node-2'), path.join(home, 'kafka', 'node-3')].map((d) => readPid(path.join(d, 'broker.pid')));
    expect(new Set(pids).size).toBe(3);
    expect(pids.every((p) => p !== undefined && isAlive(p))).toBe(true);

    const kafka = createKafka({ kafkaBrokers: addresses }, 'stack-brokers-test');
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect((await admin.describeCluster()).brokers.map((b) => `${b.host}:${b.port}`).sort()).toEqual(addresses);
      const md = await admin.fetchTopicMetadata({ topics: [Topics.ocppFrames, Topics.fleetConfig] });
      for (const t of md.topics) for (const p of t.partitions) expect(p.replicas.length).toBe(3);
      const configs = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: Topics.ocppFrames, configNames: ['min.insync.replicas', 'unclean.leader.election.enable'] }],
      });
      expect(Object.fromEntries(configs.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]))).toEqual({ 'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false' });
    } finally {
      await admin.disconnect();
    }

    // Without --brokers or KAFKA_BROKERS listing them, status finds all three from what up recorded.
    const status = await run(process.execPath, [cli, 'stack', 'status'], { env }).catch((e: { stdout: string }) => e);
    for (const [i, a] of addresses.entries()) expect(status.stdout).toMatch(new RegExp(`kafka ${i + 1}\\s+running\\s+${a.replace(/\./g, '\\.')}`));

    await run(process.execPath, [cli, 'stack', 'down'], { env, timeout: 120000 });
    expect(pids.filter((p) => p !== undefined && isAlive(p))).toEqual([]);
  } finally {
    await run(process.execPath, [cli, 'stack', 'down'], { env, timeout: 120000 }).catch(() => undefined);
    fs.rmSync(home, { recursive: true, force: true });
  }
});
