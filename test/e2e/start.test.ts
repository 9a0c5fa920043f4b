import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../support/stack';

/** `voltstream start` (what `npm start` runs) as a user runs it, on ports and a state directory of its own: it starts
 *  its own Kafka broker and embedded TimescaleDB (the shared schema registry is running and is used as it is), every
 *  service and the simulated depot; within two minutes the dashboard shows chargers charging under profiles the
 *  optimizer sent; Ctrl-C (SIGINT) stops everything and the process exits 0, leaving no broker or database behind. */
jest.setTimeout(600000);

const root = path.join(__dirname, '..', '..');

describe('voltstream start', () => {
  let child: ChildProcess | undefined;
  let home: string;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(home, { recursive: true, force: true });
  });

  test('brings up the depot; the dashboard shows charging under optimizer profiles within two minutes; Ctrl-C stops it all', async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'voltstream-start-'));
    const [kafka, controller, partner, db, ocpp, api] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      VOLTSTREAM_HOME: home,
      KAFKA_BROKERS: `127.0.0.1:${kafka}`,
      KAFKA_CONTROLLER_PORT: String(controller),
      KAFKA_PARTNER_PORT: String(partner),
      KAFKA_PARTITIONS: '3',
      EMBEDDED_DB_PORT: String(db),
      OCPP_PORT: String(ocpp),
      API_PORT: String(api),
      TELEMATICS_PULL: '0',
    };
    delete env.DATABASE_URL;
    let out = '';
    const t0 = Date.now();
    child = spawn(process.execPath, [path.join(root, 'bin', 'voltstream.js'), 'start', '--status-every', '0'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', () => undefined);
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));

    const until = async (what: string, cond: () => boolean | Promise<boolean>, ms: number) => {
      const end = Date.now() + ms;
      while (!(await cond())) {
        if (child!.exitCode !== null) throw new Error(`voltstream start exited (${child!.exitCode}) while waiting for ${what}:\n${out}`);
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${out}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    };
    await until('the ready banner', () => out.includes('Voltstream is running'), 300000);
    const ready = Date.now();
    expect(out).toContain(`http://127.0.0.1:${api}/dashboard`);
    expect(out).toContain('dev-admin-key');
    expect(out).toContain(`ws://127.0.0.1:${ocpp}/ocpp/`);
    expect(out).toContain(`127.0.0.1:${kafka}`);
    expect(out).toContain(`postgres://postgres@127.0.0.1:${db}/postgres`);
    expect(out).not.toContain('FAILED');

    let charging: { chargePointId: string; powerKw: number; profile: { purpose: string; status: string | null } | null }[] = [];
    await until(
      'chargers charging under TxProfiles on the dashboard',
      async () => {
        const s = (await fetch(`http://127.0.0.1:${api}/dashboard/state?site=SIM-depot`, { headers: { Authorization: 'Bearer dev-admin-key' } }).then((r) => r.json()).catch(() => ({ chargers: [] }))) as { chargers: typeof charging };
        charging = s.chargers.filter((c) => c.powerKw > 0 && c.profile?.purpose === 'TxProfile' && c.profile.status === 'Accepted');
        return charging.length >= 3;
      },
      120000,
    );
    const shownAfterS = (Date.now() - ready) / 1000;
    process.stderr.write(`[start] ready in ${((ready - t0) / 1000).toFixed(1)} s; ${charging.length} chargers charging under profiles ${shownAfterS.toFixed(1)} s later\n`);
    expect(shownAfterS).toBeLessThan(120);

    child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 90000))]);
    expect(code).toBe(0);
    expect(out).toContain('Stopped.');
    expect(out).toMatch(/stopping .*kafka/);
    // nothing it started is left running
    for (const pidFile of [path.join(home, 'kafka', 'broker.pid'), path.join(home, 'db', 'db.pid')]) expect(fs.existsSync(pidFile)).toBe(false);
  });
});
