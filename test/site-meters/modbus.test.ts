import * as net from 'node:net';
import * as E from 'fp-ts/Either';
import { ServerTCP } from 'modbus-serial';
import { catalog } from '../../schemas/catalog';
import { freePort, uniq } from '../support/stack';
import { markTopic, readSince } from '../telematics/support';
import { RejectionRecord, rawOf, SiteMetersHarness, startSiteMetersHarness } from './support';

/** The Modbus TCP poller against real Modbus TCP servers started here (modbus-serial's server mode): a meter that
 *  answers, a register map with a register the meter does not have (exception response), a meter that accepts the
 *  connection and never answers (timeout), a value beyond the meter's bounds and a meter nobody listens for. Each
 *  failure is a rejected record, a metric and a log line; the poller goes on. Readings and rejections are read back
 *  from the real Kafka. */
describe('site meters: Modbus TCP poller', () => {
  const site = uniq('depot');
  // Holding registers of the meter: import 412 345 W as int32 (high word first), currents as float32, voltage ×10.
  const floatWords = (x: number) => {
    const b = Buffer.alloc(4);
    b.writeFloatBE(x, 0);
    return [b.readUInt16BE(0), b.readUInt16BE(2)];
  };
  const registers = new Map<number, number>([
    [0, 0x0006],
    [1, 0x4ab9],
    ...[10, 12, 14].flatMap((a, i) => floatWords([600.5, 598, 610.25][i]!).map((w, j) => [a + j, w] as [number, number])),
    [20, 2312],
  ]);
  let importHigh = 0x0006;
  let modbusServer: ServerTCP;
  let silent: net.Server;
  const silentSockets = new Set<net.Socket>();
  let h: SiteMetersHarness;
  const good = [
    { quantity: 'importKw', address: 0, type: 'int32', scale: 0.001 },
    { quantity: 'l1A', address: 10, type: 'float32' },
    { quantity: 'l2A', address: 12, type: 'float32' },
    { quantity: 'l3A', address: 14, type: 'float32' },
    { quantity: 'voltageV', address: 20, type: 'uint16', scale: 0.1 },
  ];

  beforeAll(async () => {
    const port = await freePort();
    modbusServer = new ServerTCP(
      {
        getHoldingRegister: (addr: number) => {
          const v = addr === 0 ? importHigh : registers.get(addr);
          if (v === undefined) throw Object.assign(new Error(`no register ${addr}`), { modbusErrorCode: 2 });
          return v;
        },
      },
      { host: '127.0.0.1', port, unitID: 1 },
    );
    await new Promise<void>((resolve) => modbusServer.on('initialized', () => resolve()));
    silent = net.createServer((s) => silentSockets.add(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const silentPort = (silent.address() as net.AddressInfo).port;
    const closedPort = await freePort();
    h = await startSiteMetersHarness({
      sites: {
        [site]: {
          meters: {
            grid: { role: 'connection', maxKw: 1000, modbus: { host: '127.0.0.1', port, unitId: 1, registers: good } },
            hall: { role: 'submeter', panelId: 'hall', modbus: { host: '127.0.0.1', port, unitId: 1, registers: [good[0], { quantity: 'l1A', address: 500, type: 'float32' }] } },
            silent: { role: 'submeter', panelId: 'yard', modbus: { host: '127.0.0.1', port: silentPort, unitId: 1, registers: [good[0]] } },
            gone: { role: 'submeter', panelId: 'yard', modbus: { host: '127.0.0.1', port: closedPort, unitId: 1, registers: [good[0]] } },
          },
        },
      },
      modbus: { intervalMs: 60_000, timeoutMs: 400 },
    });
  });
  afterAll(async () => {
    await h?.stop();
    for (const s of silentSockets) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
    await new Promise((resolve) => modbusServer.close(resolve));
  });

  const readings = async (mark: Map<number, number>) =>
    (await readSince<unknown>(catalog.siteMeterReadings.name, mark, (r) => r.key === site)).map((r) => E.getOrElseW((e: string): never => { throw new Error(e); })(catalog.siteMeterReadings.decode(r.value)));
  const rejections = async (mark: Map<number, number>) => (await readSince<RejectionRecord>(catalog.siteMeterRejected.name, mark, (r) => r.key === site)).map((r) => r.value);
  const metric = async (kind: string, meter: string) => {
    const m = await h.ctx.metrics.getSingleMetric('voltstream_site_meter_modbus_errors_total')!.get();
    return m.values.find((v) => v.labels.kind === kind && v.labels.meter === meter && v.labels.site === site)?.value ?? 0;
  };

  it('reads a meter through its register map; a bad register, a timeout and a refused connection each give a rejected record and a metric', async () => {
    const marks = { readings: await markTopic(catalog.siteMeterReadings.name), rejected: await markTopic(catalog.siteMeterRejected.name) };
    const t0 = Date.now();
    await h.running.poller.pollOnce();

    const read = await readings(marks.readings);
    expect(read).toHaveLength(1);
    expect(read[0]).toMatchObject({ siteId: site, meterId: 'grid', role: 'connection', panelId: null, importKw: 412.345, l1A: 600.5, l2A: 598, l3A: 610.25, voltageV: 231.2, source: 'modbus' });
    expect(read[0]!.measuredAt).toBeGreaterThanOrEqual(t0);

    const rejected = await rejections(marks.rejected);
    const byMeter = new Map(rejected.map((r) => [r.meterId, r]));
    expect([...byMeter.keys()].sort()).toEqual(['gone', 'hall', 'silent']);
    expect(rejected.every((r) => r.source === 'modbus' && r.httpStatus === null)).toBe(true);
    expect(byMeter.get('hall')!.problems).toEqual([expect.stringMatching(/^[^ ]+\/hall: 127\.0\.0\.1:\d+ unit 1 register 500 \(l1A\): Modbus exception 2 \(illegal data address\)$/)]);
    expect(JSON.parse(rawOf(byMeter.get('hall')!))).toMatchObject({ meterId: 'hall', registers: [{ quantity: 'importKw', address: 0, words: [0x0006, 0x4ab9] }, { quantity: 'l1A', address: 500 }] });
    expect(byMeter.get('silent')!.problems).toEqual([expect.stringMatching(/register 0 \(importKw\): no answer \(timed out\)$/)]);
    expect(byMeter.get('gone')!.problems).toEqual([expect.stringMatching(/ECONNREFUSED/)]);
    expect(await metric('modbus_exception', 'hall')).toBe(1);
    expect(await metric('timeout', 'silent')).toBe(1);
    expect(await metric('connection', 'gone')).toBe(1);
  });

  it('refuses an implausible value from a register, and goes on polling after every failure', async () => {
    const marks = { readings: await markTopic(catalog.siteMeterReadings.name), rejected: await markTopic(catalog.siteMeterRejected.name) };
    importHigh = 0x00f0; // 15 747.769 kW: beyond the grid meter's 1 000 kW
    await h.running.poller.pollOnce();
    importHigh = 0x0006;
    await h.running.poller.pollOnce();

    expect((await readings(marks.readings)).map((r) => [r.meterId, r.importKw])).toEqual([['grid', 412.345]]);
    const rejected = await rejections(marks.rejected);
    const grid = rejected.filter((r) => r.meterId === 'grid');
    expect(grid).toHaveLength(1);
    expect(grid[0]!.problems).toEqual([`${site}/grid: importKw: 15747.77 kW is beyond ±1000 kW of meter 'grid'`]);
    expect(await metric('implausible', 'grid')).toBe(1);
    // The failing meters failed again, each time with a record: nothing stopped the poller.
    expect(rejected.filter((r) => r.meterId !== 'grid').map((r) => r.meterId).sort()).toEqual(['gone', 'gone', 'hall', 'hall', 'silent', 'silent']);
    expect(await metric('timeout', 'silent')).toBe(3);
  });
});
