/** `voltstream topology up` in a reduced form that fits CI (1 broker, the running schema registry, `--minimal`: two
 *  gateways, two normalizers, two projections instances and the API), on loopback addresses of its own (a random
 *  127.x.y.0/24), as a user runs it: every process's /ready answers on its own address; a charger registered through
 *  the API on its address connects with ocpp-rpc to each gateway address in turn and charges; both sessions reach the
 *  `sessions` projection in the topology's own database; `topology down` leaves no process behind. The full topology
 *  (3 brokers, its own registry, every processor twice) is the CLI's default: docs/DEPLOYMENT.md. */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { isAlive, readPid } from '../../infra/process';
import { quoteIdent } from '../../services/common/db';
import { readRecord } from '../../services/cli/topology-run';
import { ocppClient, waitFor } from '../gateway/support';
import { testConfig, uniq } from '../support/stack';

// 77 s on the shared 2-core machine at load average 15–20; at load average 45 its one broker alone took 3 min to start.
jest.setTimeout(480000);

const run = promisify(execFile);
const cli = path.join(__dirname, '..', '..', 'bin', 'voltstream.js');
const serverUrl = testConfig().databaseUrl!;
const admin = { Authorization: 'Bearer dev-admin-key', 'Content-Type': 'application/json' };

const dropDatabase = async (name: string) => {
  const c = new Client({ connectionString: serverUrl });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } finally {
    await c.end();
  }
};

test('topology up: every process ready on its own address; a charger charges through each gateway; down stops all', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltstream-topology-'));
  const net = `127.${50 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}`;
  const database = uniq('topology_test').replace(/-/g, '_');
  const env = { ...process.env, DATABASE_URL: serverUrl, KAFKA_PARTITIONS: '3', TELEMATICS_PULL: '0', LOG_LEVEL: 'warn' };
  // TOPOLOGY_TEST_FULL=1: the full topology instead (3 brokers, its own registry, every processor twice); not in CI.
  const full = process.env.TOPOLOGY_TEST_FULL === '1';
  const args = ['--dir', dir, '--net', net, ...(full ? [] : ['--brokers', '1', '--minimal', '--registry-url', testConfig().schemaRegistryUrl]), '--database', database];
  let pids: number[] = [];
  try {
    const up = await run(process.execPath, [cli, 'topology', 'up', ...args, '--ready-timeout', '180'], { env, timeout: 400000 }).catch((e: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`topology up failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
    });
    const rec = readRecord(dir);
    if (rec._tag === 'Left' || !rec.right) throw new Error(`no topology recorded: ${JSON.stringify(rec)}`);
    const placements = rec.right.placements;
    pids = placements.map((p) => readPid(p.pidFile) ?? -1);
    const processors = full ? ['normalizer', 'projections', 'vehicle-tracker'] : ['normalizer', 'projections'];
    const singles = full ? ['api', 'audit-checkpoints', 'optimizer', 'partner-router', 'site-meters'] : ['api'];
    expect(placements.map((p) => p.label).sort()).toEqual([...singles, ...[...processors, 'ocpp-gateway'].flatMap((x) => [`${x}-1`, `${x}-2`])].sort());
    expect(new Set(placements.map((p) => p.host)).size).toBe(placements.length);
    expect(rec.right.brokers).toEqual((full ? [2, 3, 4] : [2]).map((i) => `${net}.${i}:9092`));
    for (const p of placements) {
      expect(up.stdout).toMatch(new RegExp(`${p.label}\\s+${p.host.replace(/\./g, '\\.')}`));
      expect(new URL(p.readyUrl).hostname).toBe(p.host);
      const r = await fetch(p.readyUrl);
      expect([p.label, r.status]).toEqual([p.label, 200]);
      const body = (await r.json()) as { service?: string; peers?: Record<string, { ok: boolean }> };
      // The API's /ready also asks every other process's (VOLTSTREAM_PEERS): each on its own address, each ready.
      if (p.service === 'api') expect(Object.entries(body.peers ?? {}).filter(([, x]) => x.ok).map(([name]) => name).sort()).toEqual(placements.filter((x) => x.service !== 'api').map((x) => x.label).sort());
      else expect(body.service).toBe(p.service);
    }
    expect(new Set(pids).size).toBe(placements.length);

    const api = placements.find((p) => p.label === 'api')!.endpoint!;
    const gateways = placements.filter((p) => p.service === 'ocpp-gateway').map((p) => p.endpoint!.replace('/{chargePointId}', ''));
    expect(gateways).toEqual([`ws://${net}.11:9000/ocpp`, `ws://${net}.12:9000/ocpp`]);
    const cp = uniq('TOPO-CP');
    const password = 'topology-secret-1';
    const put = await fetch(`${api}/api/v1/chargers/${cp}`, { method: 'PUT', headers: admin, body: JSON.stringify({ siteId: 'topology-site', maxPowerKw: 22, password }) });
    expect(put.status).toBeLessThan(300);

    const charge = async (endpoint: string, meterStart: number) => {
      const c = ocppClient({ endpoint, identity: cp, password, protocols: ['ocpp1.6'] });
      // The gateway learns of the charger from fleet.config: the first handshakes may come before that.
      await waitFor(`${cp} accepted at ${endpoint}`, () => c.connect().then(() => true, () => false), 60000, 1000);
      expect((await c.call('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'X1' })).status).toBe('Accepted');
      await c.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing' });
      const started = await c.call('StartTransaction', { connectorId: 1, idTag: 'TOPO-TAG', meterStart, timestamp: new Date().toISOString() });
      await c.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging' });
      await c.call('StopTransaction', { transactionId: started.transactionId, meterStop: meterStart + 3000, timestamp: new Date().toISOString(), reason: 'Local' });
      await c.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
      await c.close();
      return `${cp}:${started.transactionId}`;
    };
    const sessionIds = [await charge(gateways[0]!, 10000), await charge(gateways[1]!, 13000)];

    const db = new Client({ connectionString: rec.right.databaseUrl });
    await db.connect();
    try {
      const sessions = async () =>
        (await db.query(`SELECT session_id, energy_wh, active FROM projections.sessions WHERE charge_point_id = $1 ORDER BY session_id`, [cp]).catch(() => ({ rows: [] }))).rows;
      await waitFor('both sessions projected', async () => (await sessions()).filter((s) => s.active === false).length === 2, 60000, 500);
      expect(await sessions()).toEqual([...sessionIds].sort().map((id) => ({ session_id: id, energy_wh: 3000, active: false })));
    } finally {
      await db.end();
    }

    const down = await run(process.execPath, [cli, 'topology', 'down', '--dir', dir], { env, timeout: 120000 });
    expect(down.stdout).toContain('Stopped.');
    expect(pids.filter((p) => p > 0 && isAlive(p))).toEqual([]);
    expect(fs.existsSync(path.join(dir, 'home', 'kafka', 'broker.pid'))).toBe(false);
  } finally {
    await run(process.execPath, [cli, 'topology', 'down', '--dir', dir], { env, timeout: 120000 }).catch(() => undefined);
    for (const p of pids) if (p > 0 && isAlive(p)) process.kill(p, 'SIGKILL');
    await dropDatabase(database).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
