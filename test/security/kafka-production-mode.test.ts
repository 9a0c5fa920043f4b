import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../support/stack';

/** Outside development mode (VOLTSTREAM_MODE unset or production) the services refuse the published development
 *  secrets and anonymous Kafka, each with a message naming what to set. Real processes, as an operator starts them. */
jest.setTimeout(120_000);

const root = path.join(__dirname, '..', '..');

interface Exit {
  readonly code: number | null;
  readonly output: string;
}

/** Runs `voltstream service <name>`; a service that starts is stopped after `graceMs` (code null then). */
const runService = (name: string, env: Record<string, string | undefined>, graceMs = 45_000): Promise<Exit> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'bin', 'voltstream.js'), 'service', name, '--health-port', '0'], { cwd: root, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), graceMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: signal ? null : code, output });
    });
  });

const productionEnv = async (overrides: Record<string, string | undefined>): Promise<Record<string, string | undefined>> => {
  const env: Record<string, string | undefined> = { ...process.env, LOG_LEVEL: 'warn', API_PORT: String(await freePort()), ...overrides };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
};

test('the API refuses to start with the default admin key in production mode, naming VOLTSTREAM_ADMIN_KEY', async () => {
  const env = await productionEnv({ VOLTSTREAM_MODE: 'production', VOLTSTREAM_ADMIN_KEY: undefined, KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'svc-password' });
  const r = await runService('api', env);
  expect(r.code).toBe(1);
  expect(r.output).toContain('VOLTSTREAM_ADMIN_KEY is unset or "dev-admin-key", the published development key');
  expect(r.output).not.toMatch(/api running/);
});

test('with VOLTSTREAM_MODE unset the same holds: production is the default', async () => {
  const env = await productionEnv({ VOLTSTREAM_MODE: undefined, VOLTSTREAM_ADMIN_KEY: 'dev-admin-key', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'svc-password' });
  const r = await runService('api', env);
  expect(r.code).toBe(1);
  expect(r.output).toContain('VOLTSTREAM_MODE is "production"');
});

test('a service refuses to connect to Kafka anonymously in production mode, naming the variables to set', async () => {
  // A home of its own: the test stack's broker, started in development mode, is one production mode may reach
  // anonymously (services/common/kafka.ts); a broker no local access file vouches for is not.
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'voltstream-prod-'));
  const env = await productionEnv({ VOLTSTREAM_MODE: 'production', VOLTSTREAM_HOME: home, VOLTSTREAM_ADMIN_KEY: 'a-key-of-our-own-1234', KAFKA_SASL_USERNAME: undefined, KAFKA_SASL_PASSWORD: undefined });
  const r = await runService('api', env);
  expect(r.code).toBe(1);
  expect(r.output).toMatch(/refusing to connect to Kafka at .* without credentials: VOLTSTREAM_MODE is production/);
  expect(r.output).toContain('KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD');
});

test('the telematics ingest refuses its built-in providers and their published keys in production mode', async () => {
  const env = await productionEnv({ VOLTSTREAM_MODE: 'production', TELEMATICS_PROVIDERS_FILE: undefined, KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'svc-password' });
  const r = await runService('telematics-ingest', env);
  expect(r.code).toBe(1);
  expect(r.output).toContain('TELEMATICS_PROVIDERS_FILE is unset, so the built-in development providers would accept their published keys');
});
