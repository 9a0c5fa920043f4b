import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { isAlive, readPid } from '../../infra/process';

const run = promisify(execFile);
const cli = path.join(__dirname, '..', '..', 'bin', 'voltstream.js');

describe('voltstream stack', () => {
  test('`stack up` on a running stack says so instead of failing', async () => {
    const { stdout } = await run(process.execPath, [cli, 'stack', 'up'], { env: process.env });
    expect(stdout).toContain('already running');
    expect(stdout).toContain('127.0.0.1:9092');
  });

  test('a second stack on other ports comes up from nothing, answers, and goes down leaving no process behind', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'voltstream-stack-'));
    const env = {
      ...process.env,
      VOLTSTREAM_HOME: home,
      KAFKA_BROKERS: '127.0.0.1:39092',
      KAFKA_CONTROLLER_PORT: '39093',
      KAFKA_PARTNER_PORT: '39094',
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:38081/apis/ccompat/v7',
      REGISTRY_MANAGEMENT_PORT: '38091',
      EMBEDDED_DB_PORT: '35433',
      DATABASE_URL: '',
    };
    const up = spawn(process.execPath, [cli, 'stack', 'up'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    up.stdout.on('data', (d: Buffer) => (out += d.toString()));
    up.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const t0 = Date.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`stack not ready in 150 s:\n${out}`)), 150000);
      up.stdout.on('data', () => {
        if (out.includes('Press Ctrl-C to stop.')) {
          clearTimeout(timer);
          resolve();
        }
      });
      up.once('exit', (code) => reject(new Error(`stack up exited ${code}:\n${out}`)));
    });
    const seconds = (Date.now() - t0) / 1000;
    process.stderr.write(`[stack-cli test] second stack up in ${seconds.toFixed(1)} s\n`);
    expect(out).toContain('Schema registry   http://127.0.0.1:38081/apis/ccompat/v7');
    const pids = ['kafka/broker.pid', 'registry/registry.pid', 'db/db.pid'].map((f) => readPid(path.join(home, f)));
    expect(pids.every((p) => p !== undefined && isAlive(p))).toBe(true);

    const status = await run(process.execPath, [cli, 'stack', 'status'], { env });
    expect(status.stdout).toMatch(/kafka\s+running/);
    expect(status.stdout).toMatch(/registry\s+running/);
    expect(status.stdout).toMatch(/database\s+running/);

    const exited = new Promise<number | null>((resolve) => up.once('exit', resolve));
    up.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toContain('Stopped.');
    for (const pid of pids) expect(isAlive(pid!)).toBe(false);
    fs.rmSync(home, { recursive: true, force: true });
  }, 240000);
});
