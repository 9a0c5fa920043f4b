import { AddressInfo } from 'node:net';
import { RPCServer } from 'ocpp-rpc';
import { createLogger } from '../common/log';
import { createScenario } from './model/fleet';
import { createSimulator, Simulator } from './simulator';

/** The simulated chargers on the wire, against a strict ocpp-rpc server standing in for the CSMS: every frame the
 *  simulator sends or answers must satisfy the official OCPP 1.6 / 2.0.1 JSON schemas, and the chargers must obey
 *  the profiles the server sends. (The end-to-end test in test/e2e runs the same simulator against the real gateway.) */
/* eslint-disable @typescript-eslint/no-explicit-any */
interface Seen {
  identity: string;
  method: string;
  params: any;
}

const startCsms = async () => {
  const server = new RPCServer({ protocols: ['ocpp1.6', 'ocpp2.0.1'], strictMode: true } as never);
  const seen: Seen[] = [];
  const violations: string[] = [];
  const clients = new Map<string, any>();
  let txSeq = 100;
  server.auth((accept: any, _reject: any, handshake: any) => accept({ password: handshake.password?.toString() }));
  server.on('client', (client: any) => {
    clients.set(client.identity, client);
    client.on('strictValidationFailure', (e: any) => violations.push(`${client.identity} ${e.method}: ${e.error.message}`));
    client.handle(({ method, params }: any) => {
      seen.push({ identity: client.identity, method, params });
      const now = new Date().toISOString();
      const v16 = client.protocol === 'ocpp1.6';
      switch (method) {
        case 'BootNotification':
          return { status: 'Accepted', interval: 300, currentTime: now };
        case 'Heartbeat':
          return { currentTime: now };
        case 'Authorize':
          return v16 ? { idTagInfo: { status: 'Accepted' } } : { idTokenInfo: { status: 'Accepted' } };
        case 'StartTransaction':
          return { transactionId: txSeq++, idTagInfo: { status: 'Accepted' } };
        case 'StopTransaction':
          return { idTagInfo: { status: 'Accepted' } };
        case 'TransactionEvent':
          return params.idToken ? { idTokenInfo: { status: 'Accepted' } } : {};
        default:
          return {};
      }
    });
  });
  const http = await server.listen(0, '127.0.0.1');
  const port = (http.address() as AddressInfo).port;
  return { server, seen, violations, clients, url: `ws://127.0.0.1:${port}/ocpp`, close: () => server.close({ force: true } as never) };
};

const waitFor = async (what: string, cond: () => boolean, timeoutMs = 10000) => {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('simulated chargers over OCPP (strict schemas)', () => {
  let csms: Awaited<ReturnType<typeof startCsms>>;
  let sim: Simulator;
  beforeAll(async () => {
    csms = await startCsms();
    const scenario = createScenario({ seed: 5, chargers: 2, vehicles: 2, startMs: Date.now(), initialArrivalsWithinMs: 1500, share201: 0.5, dcChargers: 0 });
    sim = createSimulator({ scenario, ocppUrl: csms.url, meterIntervalS: 1, tickMs: 100, log: createLogger('sim-test', 'error') });
    await sim.start();
  });
  afterAll(async () => {
    await sim.stop();
    await csms.close();
  });

  const cp16 = () => sim.scenario.chargers.find((c) => c.protocol === 'ocpp1.6')!;
  const cp201 = () => sim.scenario.chargers.find((c) => c.protocol === 'ocpp2.0.1')!;

  test('both versions boot with Basic auth, plug in and send meter values', async () => {
    expect(cp16()).toBeDefined();
    expect(cp201()).toBeDefined();
    await waitFor('plug-in on both', () => csms.seen.some((s) => s.method === 'StartTransaction') && csms.seen.some((s) => s.method === 'TransactionEvent' && s.params.eventType === 'Started'));
    await waitFor('meter values', () => csms.seen.some((s) => s.method === 'MeterValues') && csms.seen.some((s) => s.method === 'TransactionEvent' && s.params.triggerReason === 'MeterValuePeriodic'));
    const boot = csms.seen.filter((s) => s.method === 'BootNotification').map((s) => s.identity).sort();
    expect(boot).toEqual([cp16().id, cp201().id].sort());
    const mv = csms.seen.find((s) => s.method === 'MeterValues' && s.params.transactionId !== undefined)!;
    expect(mv.params.meterValue[0].sampledValue.map((x: any) => x.measurand)).toEqual(['Energy.Active.Import.Register', 'Power.Active.Import', 'Current.Import']);
    expect(csms.violations).toEqual([]);
  });

  test('1.6: a TxProfile limits the power, below 6 A the charger pauses, clearing restores, composite schedule answers', async () => {
    const id = cp16().id;
    await waitFor('1.6 transaction id', () => sim.state().chargers[id]!.tx?.transactionId !== undefined);
    const txId = Number(sim.state().chargers[id]!.tx!.transactionId);
    const client = csms.clients.get(id);
    const profile = (limit: number) => ({
      connectorId: 1,
      csChargingProfiles: {
        chargingProfileId: 7, transactionId: txId, stackLevel: 1, chargingProfilePurpose: 'TxProfile', chargingProfileKind: 'Absolute',
        chargingSchedule: { startSchedule: new Date(Date.now() - 5000).toISOString(), chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit }] },
      },
    });
    expect(await client.call('SetChargingProfile', profile(10))).toEqual({ status: 'Accepted' });
    expect(sim.state().chargers[id]!.powerKw).toBeCloseTo(6.9);
    const mark = csms.seen.length;
    await waitFor('meter value at 6.9 kW', () => csms.seen.slice(mark).some((s) => s.identity === id && s.method === 'MeterValues' && s.params.meterValue[0].sampledValue[1].value === '6900'));
    const comp: any = await client.call('GetCompositeSchedule', { connectorId: 1, duration: 600, chargingRateUnit: 'A' });
    expect(comp.status).toBe('Accepted');
    expect(comp.chargingSchedule.chargingSchedulePeriod[0]).toEqual({ startPeriod: 0, limit: 10 });
    expect(await client.call('SetChargingProfile', profile(5))).toEqual({ status: 'Accepted' });
    expect(sim.state().chargers[id]).toMatchObject({ powerKw: 0, status: 'SuspendedEVSE' });
    await waitFor('SuspendedEVSE status', () => csms.seen.some((s) => s.identity === id && s.method === 'StatusNotification' && s.params.status === 'SuspendedEVSE'));
    expect(await client.call('ClearChargingProfile', { chargingProfilePurpose: 'TxProfile' })).toEqual({ status: 'Accepted' });
    expect(sim.state().chargers[id]!.powerKw).toBe(11);
    expect(await client.call('TriggerMessage', { requestedMessage: 'Heartbeat' })).toEqual({ status: 'Accepted' });
    await waitFor('triggered heartbeat', () => csms.seen.some((s) => s.identity === id && s.method === 'Heartbeat'));
    expect(sim.latencies.find((l) => l.chargerId === id)?.purpose).toBe('TxProfile');
    expect(csms.violations).toEqual([]);
  });

  test('2.0.1: a W station-max profile caps the power, GetCompositeSchedule and Reset answer', async () => {
    const id = cp201().id;
    const client = csms.clients.get(id);
    const res = await client.call('SetChargingProfile', {
      evseId: 0,
      chargingProfile: {
        id: 3, stackLevel: 0, chargingProfilePurpose: 'ChargingStationMaxProfile', chargingProfileKind: 'Absolute',
        chargingSchedule: [{ id: 1, startSchedule: new Date(Date.now() - 1000).toISOString(), chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 7360 }] }],
      },
    });
    expect(res).toEqual({ status: 'Accepted' });
    expect(sim.state().chargers[id]!.powerKw).toBeCloseTo(7.36);
    const comp: any = await client.call('GetCompositeSchedule', { evseId: 1, duration: 300, chargingRateUnit: 'W' });
    expect(comp.schedule.chargingSchedulePeriod[0]).toEqual({ startPeriod: 0, limit: 7360 });
    expect(await client.call('ClearChargingProfile', { chargingProfileId: 3 })).toEqual({ status: 'Accepted' });
    const boots = csms.seen.filter((s) => s.identity === id && s.method === 'BootNotification').length;
    expect(await client.call('Reset', { type: 'OnIdle' })).toEqual({ status: 'Accepted' });
    await waitFor('boot after reset', () => csms.seen.filter((s) => s.identity === id && s.method === 'BootNotification').length > boots);
    expect(csms.violations).toEqual([]);
  });
});
