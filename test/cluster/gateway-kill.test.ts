/** SIGKILL of a gateway instance (issue 15): two gateway processes share Kafka and PostgreSQL, chargers (ocpp-rpc
 *  clients) are spread over both, and commands are pending on the one that dies: outstanding at its chargers (which
 *  hold their answers) and queued behind them. After the SIGKILL its chargers reconnect to the other instance, which
 *  claims them once the dead one's lease has run out and continues each chain from its last record; the survivor
 *  takes the dead instance's commands over from the ledger. Every command reaches its charger and is ACCEPTED, or,
 *  for a charger that never comes back, gets an explicit OFFLINE or EXPIRED: none vanishes, and each has one outcome.
 *  Every chain in ocpp.frames is one chain (seq 1..n, each prevHash the hash before, recomputed as `verify` does). */
import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Topics } from '../../schemas/topics';
import { uniq } from '../support/stack';
import { checkChain, configureFleet, dropSchema, ensureContractTopics, FrameRec, gatewayContext, ocppClient, OcppClient, pgSchemaName, readFrom, topicEnds, waitFor } from '../gateway/support';

jest.setTimeout(150_000);

const root = path.join(__dirname, '..', '..');
const log = (s: string) => process.stderr.write(`[gateway kill] ${s}\n`);
const ctx = gatewayContext();
const schema = pgSchemaName('gw_kill');
const prefix = uniq('gwkill');
const LEASE_MS = 3000;

interface Instance {
  readonly child: ChildProcess;
  readonly name: string;
  readonly url: string;
  readonly exited: Promise<void>;
}
const children: ChildProcess[] = [];

const startInstance = (name: string, env: NodeJS.ProcessEnv): Promise<Instance> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', 'tsx/cjs', path.join(__dirname, 'gateway-runner.ts')], { cwd: root, env: { ...env, GW_ID: uniq(name) }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    void exited.then(() => reject(new Error(`${name} exited before it was ready`)));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => process.stderr.write(`[${name}] ${c}`));
    let rest = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) {
        const [what, port, instance] = l.split(' ');
        if (what === 'ready') {
          log(`${name} ready on port ${port} (${instance})`);
          resolve({ child, name, url: `ws://127.0.0.1:${port}/ocpp`, exited });
        }
      }
    });
  });

interface Result {
  commandId: string;
  chargePointId: string;
  outcome: string;
  gatewayId: string;
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await dropSchema(ctx.pool, schema);
  await ctx.pool.end();
});

test('SIGKILL of a gateway: its chargers move to the other, chains go on unforked, every pending command reaches its charger or gets an explicit outcome', async () => {
  await ensureContractTopics(ctx.kafka);
  const onA = [0, 1, 2].map((i) => `${prefix}-a${i}`);
  const gone = `${prefix}-gone`;
  const onB = [0, 1, 2].map((i) => `${prefix}-b${i}`);
  const all = [...onA, gone, ...onB];
  await configureFleet(ctx.kafka, ctx.serde, all.map((id) => ({ id, password: `pw-${id}` })));
  const framesFrom = await topicEnds(ctx.kafka, Topics.ocppFrames);
  const resultsFrom = await topicEnds(ctx.kafka, Topics.ocppCommandResults);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOG_LEVEL: 'warn',
    DATABASE_URL: ctx.config.databaseUrl,
    GW_SCHEMA: schema,
    GW_COMMANDS_GROUP: uniq('gw-kill-commands'),
    GW_CHARGER_PREFIX: prefix,
    GW_LEASE_MS: String(LEASE_MS),
    OCPP_INTERNAL_TOKEN: randomUUID(),
  };
  const [a, b] = await Promise.all([startInstance('gw-A', env), startInstance('gw-B', env)]);

  // Which ClearChargingProfile ids each charger received; chargers on A hold their answers (commands stay pending).
  const received = new Map<string, number[]>(all.map((id) => [id, []]));
  const clients: OcppClient[] = [];
  const connect = async (gwUrl: string, id: string, answer: boolean): Promise<OcppClient> => {
    const c = ocppClient({ endpoint: gwUrl, identity: id, password: `pw-${id}`, protocols: ['ocpp1.6'] });
    c.handle('ClearChargingProfile', ({ params }) => {
      received.get(id)!.push(Number(params.id));
      return answer ? { status: 'Accepted' } : new Promise(() => undefined);
    });
    clients.push(c);
    await c.connect();
    await c.call('BootNotification', { chargePointVendor: 'V', chargePointModel: 'M' });
    return c;
  };
  const firstSessions = new Map<string, OcppClient>();
  for (const id of [...onA, gone]) firstSessions.set(id, await connect(a.url, id, false));
  for (const id of onB) await connect(b.url, id, true);

  const producer = ctx.kafka.producer();
  await producer.connect();
  let nextId = 1;
  const sent: { commandId: string; chargePointId: string; profileId: number; batch: number }[] = [];
  const send = async (chargePointId: string, batch: number, expiresAt: number | null) => {
    const commandId = randomUUID();
    const profileId = nextId++;
    const value = await ctx.serde.encode(Topics.ocppCommands, {
      commandId, chargePointId, action: 'ClearChargingProfile', payloadJson: JSON.stringify({ id: profileId }), issuedBy: 'test', issuedAt: Date.now(), expiresAt, planId: null,
    });
    await producer.send({ topic: Topics.ocppCommands, acks: -1, messages: [{ key: chargePointId, value }] });
    sent.push({ commandId, chargePointId, profileId, batch });
  };

  try {
    // Batch 1: two commands per charger. On A the first is outstanding (unanswered), the second queued behind it.
    for (const id of all) for (let k = 0; k < 2; k++) await send(id, 1, null);
    await waitFor('A\'s chargers to hold their first command, B\'s to answer both', () =>
      [...onA, gone].every((id) => received.get(id)!.length >= 1) && onB.every((id) => received.get(id)!.length >= 2), 45_000);

    const t0 = Date.now();
    // A's chargers reconnect to B as soon as their socket drops (the one called `gone` never comes back).
    const moved = onA.map(
      (id) =>
        new Promise<number>((resolve) => {
          firstSessions.get(id)!.on('close', () => {
            void (async () => {
              for (;;) {
                try {
                  await connect(b.url, id, true);
                  return resolve(Date.now() - t0);
                } catch {
                  await new Promise((r) => setTimeout(r, 300));
                }
              }
            })();
          });
        }),
    );
    log(`SIGKILL ${a.name} (pid ${a.child.pid}) with ${sent.filter((s) => !onB.includes(s.chargePointId)).length} commands pending on it`);
    a.child.kill('SIGKILL');
    await a.exited;
    // Batch 2, while A's chargers are away: one per charger, with expiresAt (the one for `gone` soon).
    for (const id of all) await send(id, 2, Date.now() + (id === gone ? 5_000 : 60_000));

    const reconnectMs = await Promise.all(moved);
    log(`A's chargers reconnected to B after ${reconnectMs.join(', ')} ms (lease ${LEASE_MS} ms)`);

    const results = await readFrom<Result>(ctx.kafka, Topics.ocppCommandResults, resultsFrom, (k) => k.startsWith(prefix), (r) => sent.every((s) => r.some((x) => x.commandId === s.commandId)), 90_000);
    log(`all ${sent.length} outcomes recorded ${Date.now() - t0} ms after the kill`);
    const outcomes = new Map<string, Set<string>>();
    for (const r of results) outcomes.set(r.commandId, (outcomes.get(r.commandId) ?? new Set()).add(r.outcome));
    for (const s of sent) {
      const got = outcomes.get(s.commandId);
      expect({ ...s, outcomes: got ? [...got] : [] }).toEqual({ ...s, outcomes: s.chargePointId === gone ? [expect.stringMatching(/^(OFFLINE|EXPIRED)$/)] : ['ACCEPTED'] });
      // Every command of a charger that is back reached it.
      if (s.chargePointId !== gone) expect(received.get(s.chargePointId)).toContain(s.profileId);
    }
    expect(outcomes.get(sent.find((s) => s.chargePointId === gone && s.batch === 2)!.commandId)).toEqual(new Set(['EXPIRED']));
  } finally {
    await producer.disconnect();
    for (const c of clients) await c.close({ force: false }).catch(() => undefined);
    b.child.kill('SIGTERM');
    await b.exited;
  }

  // One chain per charger: A's records, then B's from B's CONNECTED on; B released them cleanly (DISCONNECTED).
  const back = [...onA, ...onB];
  const frames = await readFrom<FrameRec>(ctx.kafka, Topics.ocppFrames, framesFrom, (k) => k.startsWith(prefix), (r) => back.every((id) => r.some((f) => f.chargePointId === id && f.kind === 'DISCONNECTED')), 60_000);
  for (const id of all) {
    const chain = frames.filter((f) => f.chargePointId === id).sort((x, y) => Number(x.seq) - Number(y.seq));
    checkChain(chain);
    const gateways = chain.map((f) => f.gatewayId);
    const firstOfB = gateways.findIndex((g) => g !== gateways[0]);
    if (onA.includes(id)) {
      expect(firstOfB).toBeGreaterThan(0);
      expect(chain[firstOfB]!.kind).toBe('CONNECTED');
      expect(new Set(gateways.slice(firstOfB)).size).toBe(1);
    }
    if (id !== gone) expect(chain[chain.length - 1]!.kind).toBe('DISCONNECTED');
  }
  log(`chains verified: ${all.map((id) => frames.filter((f) => f.chargePointId === id).length).join(', ')} records`);
});
