import { RPCClient, createRPCError } from 'ocpp-rpc';
import { Logger } from '../common/log';
import { ChargerSpec } from './model/charger';
import { ChargerState, Effect } from './model/depot';
import { ClearCriteria, Profile, Purpose, RateUnit, SchedulePeriod, fromOcpp16, fromOcpp201 } from './model/profile';
import { Call, bootCall, chargingStateCall201, meterCalls, plugInCalls, statusCall, unplugCalls } from './ocpp-messages';

/** One simulated charger on the wire: an ocpp-rpc RPCClient in strict mode (every payload we send or answer is checked
 *  against the official OCPP JSON schemas of its version) that turns model effects into calls, in order, and answers
 *  the CSMS's SetChargingProfile, ClearChargingProfile, GetCompositeSchedule, TriggerMessage and Reset. */
export interface ChargerHost {
  simNow(): number;
  charger(id: string): ChargerState;
  setProfile(id: string, p: Profile): 'Accepted' | 'Rejected';
  clearProfile(id: string, c: ClearCriteria): number;
  composite(id: string, durationS: number, unit: RateUnit | undefined): { unit: RateUnit; periods: SchedulePeriod[] } | undefined;
  transactionAccepted(id: string, localId: string, transactionId: string): void;
  nextSeqNo(id: string): number;
  /** Latest meter reading the charger would report now. */
  meterNow(id: string): Extract<Effect, { kind: 'meter' }>;
  /** Every frame both ways, for tests, the benchmark and logs. */
  traffic(t: Traffic): void;
}

export interface Traffic {
  readonly chargerId: string;
  readonly direction: 'in' | 'out';
  readonly method: string;
  readonly params: unknown;
  readonly wallAt: number;
  readonly simAt: number;
  readonly ok: boolean;
  readonly detail?: string;
  /** For calls the charger made: CALL → CALLRESULT round trip (wall ms). */
  readonly rttMs?: number;
}

export interface SimChargerOptions {
  readonly endpoint: string;
  readonly spec: ChargerSpec;
  readonly host: ChargerHost;
  readonly log: Logger;
  readonly callTimeoutMs?: number;
}

const purposeOf16 = (p: string | undefined): Purpose | undefined => (p === undefined ? undefined : (p as Purpose));
const purposeOf201 = (p: string | undefined): Purpose | undefined => (p === undefined ? undefined : p === 'ChargingStationMaxProfile' ? 'ChargePointMaxProfile' : (p as Purpose));

export class SimCharger {
  readonly id: string;
  private client: RPCClient;
  private chain: Promise<void> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastConnectorStatus201: string | undefined;
  failures = 0;

  constructor(private readonly o: SimChargerOptions) {
    this.id = o.spec.id;
    this.client = this.createClient();
  }

  private createClient(): RPCClient {
    const c = new RPCClient({
      endpoint: this.o.endpoint,
      identity: this.id,
      protocols: [this.o.spec.protocol],
      password: this.o.spec.password,
      strictMode: true,
      reconnect: true,
      callTimeoutMs: this.o.callTimeoutMs ?? 30000,
      backoff: { initialDelay: 500, maxDelay: 10000, factor: 2, randomisationFactor: 0.25 },
    } as never);
    c.on('strictValidationFailure', (e: { error: Error; method: string; outbound: boolean }) =>
      this.o.log.warn('OCPP schema violation', { chargePointId: this.id, method: e.method, outbound: e.outbound, err: e.error }),
    );
    c.on('open', () => {
      if (!this.stopped) this.enqueue(this.bootSequence());
    });
    this.installHandlers(c);
    return c;
  }

  /** Connects, retrying while the gateway does not know the charger yet (configuration travels through Kafka). */
  async connect(timeoutMs = 60000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let wait = 250;
    for (;;) {
      try {
        await this.client.connect();
        return;
      } catch (e) {
        if (this.stopped) return;
        if (Date.now() > deadline) throw new Error(`${this.id}: could not connect to ${this.o.endpoint}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * 2, 3000);
      }
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    await Promise.race([this.chain, new Promise((r) => setTimeout(r, 2000))]);
    await this.client.close({ code: 1000, reason: 'simulator stopping', awaitPending: false }).catch(() => undefined);
  }

  get connected(): boolean {
    return this.client.state === RPCClient.OPEN;
  }

  /** Turns one model effect into calls, sent after every earlier call of this charger. */
  handle(effect: Effect): void {
    const p = this.o.spec.protocol;
    switch (effect.kind) {
      case 'status': {
        if (p === 'ocpp1.6') return this.enqueue([statusCall(p, 1, effect.status, effect.at)]);
        const calls: (() => Call[])[] = [];
        const connectorStatus = effect.status === 'Available' ? 'Available' : 'Occupied';
        if (connectorStatus !== this.lastConnectorStatus201) {
          this.lastConnectorStatus201 = connectorStatus;
          calls.push(() => [statusCall(p, 1, effect.status, effect.at)]);
        }
        const c = this.o.host.charger(this.id);
        if (c.tx && effect.status !== 'Preparing' && effect.status !== 'Available') {
          calls.push(() => [chargingStateCall201({ tx: c.tx!, seqNo: this.o.host.nextSeqNo(this.id) }, effect.status, effect.at)]);
        }
        return this.enqueueLazy(() => calls.flatMap((f) => f()));
      }
      case 'plugIn':
        return this.enqueue(plugInCalls(p, effect));
      case 'meter':
        return this.enqueueLazy(() => {
          const c = this.o.host.charger(this.id);
          const m = { ...effect, tx: effect.tx && c.tx?.localId === effect.tx.localId ? c.tx : effect.tx };
          return meterCalls(p, m, p === 'ocpp2.0.1' && m.tx ? { tx: m.tx, seqNo: this.o.host.nextSeqNo(this.id) } : undefined);
        });
      case 'unplug':
        return this.enqueueLazy(() => unplugCalls(p, effect, p === 'ocpp2.0.1' ? this.o.host.nextSeqNo(this.id) : 0));
      default:
        return;
    }
  }

  private bootSequence(): Call[] {
    return [bootCall(this.o.spec.protocol, this.id, `${this.o.spec.currentType}${this.o.spec.maxPowerKw}`)];
  }

  private enqueue(calls: Call[]): void {
    this.enqueueLazy(() => calls);
  }

  /** Calls are built when their turn comes, so they see the transactionId the CSMS gave meanwhile. */
  private enqueueLazy(build: () => Call[]): void {
    this.chain = this.chain.then(async () => {
      for (const call of build()) await this.send(call);
    });
  }

  private async send(call: Call): Promise<void> {
    if (this.stopped) return;
    const wallAt = Date.now();
    const simAt = this.o.host.simNow();
    try {
      const result = (await this.client.call(call.method, call.params)) as Record<string, unknown>;
      this.o.host.traffic({ chargerId: this.id, direction: 'out', method: call.method, params: call.params, wallAt, simAt, ok: true, detail: call.plugIn ? 'plugIn' : undefined, rttMs: Date.now() - wallAt });
      this.onResult(call, result);
    } catch (e) {
      this.failures++;
      this.o.host.traffic({ chargerId: this.id, direction: 'out', method: call.method, params: call.params, wallAt, simAt, ok: false, detail: (e as Error).message });
      this.o.log.warn('OCPP call failed', { chargePointId: this.id, method: call.method, err: e });
    }
  }

  private onResult(call: Call, result: Record<string, unknown>): void {
    if (call.method === 'BootNotification') {
      const interval = Number(result.interval ?? 300);
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.heartbeat = setInterval(() => this.enqueue([{ method: 'Heartbeat', params: {} }]), Math.max(10, interval) * 1000);
      this.heartbeat.unref();
      const c = this.o.host.charger(this.id);
      const now = this.o.host.simNow();
      const p = this.o.spec.protocol;
      this.lastConnectorStatus201 = c.status === 'Available' ? 'Available' : 'Occupied';
      this.enqueue(p === 'ocpp1.6' ? [statusCall(p, 0, 'Available', now), statusCall(p, 1, c.status, now)] : [statusCall(p, 1, c.status, now)]);
    }
    if (call.startsTx !== undefined && result.transactionId !== undefined) {
      this.o.host.transactionAccepted(this.id, call.startsTx, String(result.transactionId));
    }
  }

  private received(method: string, params: unknown, ok = true, detail?: string) {
    this.o.host.traffic({ chargerId: this.id, direction: 'in', method, params, wallAt: Date.now(), simAt: this.o.host.simNow(), ok, detail });
  }

  /* eslint-disable @typescript-eslint/no-explicit-any */
  private installHandlers(c: RPCClient): void {
    const v16 = this.o.spec.protocol === 'ocpp1.6';
    const host = this.o.host;
    c.handle('SetChargingProfile', async ({ params }: any) => {
      const profile = v16 ? fromOcpp16(params, host.simNow()) : fromOcpp201(params, host.simNow());
      const status = host.setProfile(this.id, profile);
      this.received('SetChargingProfile', params, status === 'Accepted', status);
      return { status };
    });
    c.handle('ClearChargingProfile', async ({ params }: any) => {
      const criteria: ClearCriteria = v16
        ? { id: params.id, connectorId: params.connectorId, purpose: purposeOf16(params.chargingProfilePurpose), stackLevel: params.stackLevel }
        : {
            id: params.chargingProfileId,
            connectorId: params.chargingProfileCriteria?.evseId,
            purpose: purposeOf201(params.chargingProfileCriteria?.chargingProfilePurpose),
            stackLevel: params.chargingProfileCriteria?.stackLevel,
          };
      const cleared = host.clearProfile(this.id, criteria);
      this.received('ClearChargingProfile', params, true, `${cleared} cleared`);
      return { status: cleared > 0 ? 'Accepted' : 'Unknown' };
    });
    c.handle('GetCompositeSchedule', async ({ params }: any) => {
      this.received('GetCompositeSchedule', params);
      const connector = v16 ? params.connectorId : params.evseId;
      const comp = host.composite(this.id, params.duration, params.chargingRateUnit);
      if (!comp || connector > 1) return { status: 'Rejected' };
      const start = new Date(host.simNow()).toISOString();
      const chargingSchedulePeriod = comp.periods.map((x) => ({ startPeriod: x.startPeriod, limit: x.limit }));
      return v16
        ? { status: 'Accepted', connectorId: connector, scheduleStart: start, chargingSchedule: { duration: params.duration, startSchedule: start, chargingRateUnit: comp.unit, chargingSchedulePeriod } }
        : { status: 'Accepted', schedule: { evseId: connector, duration: params.duration, scheduleStart: start, chargingRateUnit: comp.unit, chargingSchedulePeriod } };
    });
    c.handle('TriggerMessage', async ({ params }: any) => {
      this.received('TriggerMessage', params);
      const now = host.simNow();
      const p = this.o.spec.protocol;
      const ch = host.charger(this.id);
      const m = params.requestedMessage as string;
      let calls: (() => Call[]) | undefined;
      if (m === 'BootNotification') calls = () => this.bootSequence();
      else if (m === 'Heartbeat') calls = () => [{ method: 'Heartbeat', params: {} }];
      else if (m === 'StatusNotification') calls = () => [statusCall(p, 1, ch.status, now)];
      else if (m === 'MeterValues') calls = () => meterCalls(p, host.meterNow(this.id), undefined);
      else if (m === 'TransactionEvent' && !v16 && ch.tx) {
        calls = () => meterCalls(p, host.meterNow(this.id), { tx: host.charger(this.id).tx!, seqNo: host.nextSeqNo(this.id) }).map((x) => ({ ...x, params: { ...x.params, triggerReason: 'Trigger' } }));
      }
      if (!calls) return { status: 'NotImplemented' };
      setImmediate(() => this.enqueueLazy(calls!));
      return { status: 'Accepted' };
    });
    c.handle('Reset', async ({ params }: any) => {
      this.received('Reset', params);
      setTimeout(() => {
        if (this.stopped) return;
        this.enqueueLazy(() => this.bootSequence());
      }, 500).unref();
      return { status: 'Accepted' };
    });
    if (v16) {
      c.handle('GetConfiguration', async ({ params }: any) => {
        this.received('GetConfiguration', params);
        const all = [
          { key: 'ChargingScheduleMaxPeriods', readonly: true, value: String(this.o.spec.maxSchedulePeriods) },
          { key: 'ChargingScheduleAllowedChargingRateUnit', readonly: true, value: this.o.spec.rateUnit === 'A' ? 'Current' : 'Power' },
          { key: 'MaxChargingProfilesInstalled', readonly: true, value: '10' },
          { key: 'ChargeProfileMaxStackLevel', readonly: true, value: '10' },
          { key: 'MeterValueSampleInterval', readonly: false, value: '60' },
        ];
        const keys: string[] | undefined = params.key;
        return { configurationKey: keys?.length ? all.filter((k) => keys.includes(k.key)) : all, unknownKey: keys?.filter((k) => !all.some((a) => a.key === k)) ?? [] };
      });
      c.handle('ChangeConfiguration', async ({ params }: any) => {
        this.received('ChangeConfiguration', params);
        return { status: 'Accepted' };
      });
      c.handle('RemoteStartTransaction', async ({ params }: any) => {
        this.received('RemoteStartTransaction', params);
        return { status: 'Rejected' };
      });
      c.handle('RemoteStopTransaction', async ({ params }: any) => {
        this.received('RemoteStopTransaction', params);
        return { status: 'Rejected' };
      });
    } else {
      c.handle('GetVariables', async ({ params }: any) => {
        this.received('GetVariables', params);
        return {
          getVariableResult: params.getVariableData.map((d: any) => {
            const known = d.component?.name === 'SmartChargingCtrlr' && d.variable?.name === 'PeriodsPerSchedule';
            return { attributeStatus: known ? 'Accepted' : 'UnknownVariable', component: d.component, variable: d.variable, ...(known ? { attributeValue: String(this.o.spec.maxSchedulePeriods) } : {}) };
          }),
        };
      });
      c.handle('SetVariables', async ({ params }: any) => {
        this.received('SetVariables', params);
        return { setVariableResult: params.setVariableData.map((d: any) => ({ attributeStatus: 'Accepted', component: d.component, variable: d.variable })) };
      });
      c.handle('RequestStartTransaction', async ({ params }: any) => {
        this.received('RequestStartTransaction', params);
        return { status: 'Rejected' };
      });
      c.handle('RequestStopTransaction', async ({ params }: any) => {
        this.received('RequestStopTransaction', params);
        return { status: 'Rejected' };
      });
    }
    c.handle(({ method, params }: any) => {
      this.received(method, params, false, 'NotImplemented');
      throw createRPCError('NotImplemented', `${method} is not implemented by the simulated charger`);
    });
  }
  /* eslint-enable @typescript-eslint/no-explicit-any */
}
