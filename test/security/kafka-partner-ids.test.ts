import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as E from 'fp-ts/Either';
import { runKafkaTool } from '../../infra/kafka/broker';
import { kafkaLibDir } from '../../infra/fetch';
import { findJava } from '../../infra/java';
import { javaClientProperties, resolveKafkaClientSecurity } from '../../services/common/kafka';
import { setScramCredentials } from '../../services/api/partners';
import { startTestApi, TestApi } from '../api/harness';
import { testConfig, uniq } from '../support/stack';

/** A partner id is the partner's Kafka user name. `ANONYMOUS` is what Kafka calls every unauthenticated client, a super
 *  user of the development broker: provisioning a partner of that name (in any case) used to mint a SCRAM user that
 *  the broker could not tell from the platform itself. */
jest.setTimeout(120_000);

let t: TestApi;
const anonymousVariants = ['ANONYMOUS', 'anonymous', 'Anonymous', 'aNoNyMoUs'];

/** The user names with SCRAM credentials on the shared broker, asked with Kafka's own ConfigCommand. */
const scramUsers = (): string[] => {
  const security = resolveKafkaClientSecurity(testConfig());
  if (E.isLeft(security)) throw new Error(security.left);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scram-users-'));
  const props = path.join(dir, 'client.properties');
  fs.writeFileSync(props, Object.entries(javaClientProperties(security.right)).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });
  try {
    const out = runKafkaTool('kafka.admin.ConfigCommand', ['--bootstrap-server', testConfig().kafkaBrokers.join(','), '--command-config', props, '--describe', '--entity-type', 'users']);
    return [...out.matchAll(/user-principal '([^']*)'/g)].map((m) => m[1]!);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
};

beforeAll(async () => {
  t = await startTestApi();
});

afterAll(async () => {
  await t?.stop();
});

// The HTTP checks come first: the Kafka tools below take seconds, longer than the API's keep-alive.
test('provisioning a partner named ANONYMOUS, in any case, is refused with 400', async () => {
  for (const id of anonymousVariants) {
    const r = await t.call('PUT', `/api/v1/partners/${id}`, { body: { password: `pw-${uniq('x')}` } });
    expect({ id, status: r.status }).toEqual({ id, status: 400 });
    expect(r.json.problems).toEqual([`partnerId: "${id}" is reserved: it is the name Kafka gives every unauthenticated client`]);
  }
});

test("the platform's own user names are refused as partner ids and as a charger's owner", async () => {
  for (const id of ['voltstream-service', 'VoltStream-controller', 'kafka-admin']) {
    const r = await t.call('PUT', `/api/v1/partners/${id}`, { body: { password: `pw-${uniq('x')}` } });
    expect({ id, status: r.status }).toEqual({ id, status: 400 });
    expect(r.json.problems).toEqual([expect.stringMatching(new RegExp(`^partnerId: "${id}" is reserved: names starting with`))]);
  }
  const charger = await t.call('PUT', `/api/v1/chargers/${uniq('CP')}`, { body: { siteId: 's', maxPowerKw: 22, ownerPartnerId: 'Anonymous' } });
  expect(charger.status).toBe(400);
  expect(charger.json.problems).toEqual([expect.stringMatching(/^ownerPartnerId: "Anonymous" is reserved/)]);
});

test('no Kafka user of any case variant of ANONYMOUS exists after the refused provisioning', () => {
  expect(scramUsers().map((u) => u.toLowerCase())).not.toContain('anonymous');
});

test('the SCRAM credential setter refuses reserved names too, in TypeScript and in its Java helper', async () => {
  await expect(setScramCredentials(testConfig(), 'Anonymous', 'pw-12345678')).rejects.toThrow('refusing to set SCRAM credentials: "Anonymous" is reserved');
  const java = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = execFile(findJava(17).bin, ['-cp', `${kafkaLibDir}/*`, path.join(__dirname, '..', '..', 'services', 'api', 'ScramCredentials.java'), testConfig().kafkaBrokers.join(',')], { encoding: 'utf8', timeout: 60_000 }, (err, _stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr }),
    );
    child.stdin?.end('aNoNyMoUs\npw-12345678\n');
  });
  expect(java.code).toBe(3);
  expect(java.stderr).toContain('refusing to set SCRAM credentials for reserved user name "aNoNyMoUs"');
  expect(scramUsers().map((u) => u.toLowerCase())).not.toContain('anonymous');
});
