import { randomUUID } from 'node:crypto';
import { Kafka } from 'kafkajs';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { createDurableProducer, DURABLE_ACKS } from '../../services/common/kafka';
import { frameHash, GENESIS_HASH } from '../../schemas/frame-chain';
import { TopicSerde } from '../../schemas/registry';
import { Topics } from '../../schemas/topics';
import { FrameRecord } from '../../services/audit/frames';

/** Writes an OCPP conversation to ocpp.frames the way the gateway does (seq from 1, each record chained to the previous
 *  one of the same charger), so the audit tools can be tested without a gateway. */
export interface FrameSpec {
  readonly direction: 'IN' | 'OUT';
  readonly kind: 'CALL' | 'CALLRESULT' | 'CALLERROR' | 'CONNECTED' | 'DISCONNECTED';
  readonly action: string | null;
  readonly uniqueId: string | null;
  readonly payload: unknown;
  readonly receivedAt: number;
}

export const chain = (chargePointId: string, specs: readonly FrameSpec[]): FrameRecord[] => {
  let prevHash = GENESIS_HASH;
  return specs.map((s, i) => {
    const messageTypeId = s.kind === 'CALL' ? 2 : s.kind === 'CALLRESULT' ? 3 : s.kind === 'CALLERROR' ? 4 : null;
    const payloadJson = s.payload === null ? null : JSON.stringify(s.payload);
    const raw = messageTypeId === 2 ? JSON.stringify([2, s.uniqueId, s.action, s.payload]) : messageTypeId === 3 ? JSON.stringify([3, s.uniqueId, s.payload]) : '';
    const content = {
      chargePointId, seq: i + 1, direction: s.direction, kind: s.kind, uniqueId: s.uniqueId, action: s.action, payloadJson, errorCode: null, raw, receivedAt: s.receivedAt,
      gatewayId: 'gw-test', protocol: 'ocpp1.6', messageTypeId, errorDescription: null, commandId: null,
    };
    const hash = frameHash(prevHash, content);
    const rec: FrameRecord = { ...content, frameId: randomUUID(), prevHash, hash };
    prevHash = hash;
    return rec;
  });
};

export const writeFrames = async (kafka: Kafka, serde: TopicSerde, frames: readonly FrameRecord[]): Promise<void> => {
  const producer = createDurableProducer(kafka);
  await producer.connect();
  try {
    for (const f of frames) {
      const value = await serde.encode(Topics.ocppFrames, f);
      await producer.send({ topic: Topics.ocppFrames, acks: DURABLE_ACKS, messages: [{ key: f.chargePointId, value, timestamp: String(f.receivedAt) }] });
    }
  } finally {
    await producer.disconnect();
  }
};

/** A morning at a charger: boot, status, a session with meter values. */
export const conversation = (t0: number): FrameSpec[] => [
  { direction: 'IN', kind: 'CONNECTED', action: null, uniqueId: null, payload: null, receivedAt: t0 },
  { direction: 'IN', kind: 'CALL', action: 'BootNotification', uniqueId: 'b1', payload: { chargePointVendor: 'Acme', chargePointModel: 'X1' }, receivedAt: t0 + 100 },
  { direction: 'OUT', kind: 'CALLRESULT', action: 'BootNotification', uniqueId: 'b1', payload: { status: 'Accepted', currentTime: new Date(t0).toISOString(), interval: 300 }, receivedAt: t0 + 120 },
  { direction: 'IN', kind: 'CALL', action: 'StartTransaction', uniqueId: 's1', payload: { connectorId: 1, idTag: 'TAG1', meterStart: 1000, timestamp: new Date(t0 + 60_000).toISOString() }, receivedAt: t0 + 60_000 },
  { direction: 'OUT', kind: 'CALLRESULT', action: 'StartTransaction', uniqueId: 's1', payload: { transactionId: 7, idTagInfo: { status: 'Accepted' } }, receivedAt: t0 + 60_050 },
  { direction: 'IN', kind: 'CALL', action: 'MeterValues', uniqueId: 'm1', payload: { connectorId: 1, transactionId: 7, meterValue: [{ timestamp: new Date(t0 + 120_000).toISOString(), sampledValue: [{ value: '2500', measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }] }, receivedAt: t0 + 120_000 },
  { direction: 'OUT', kind: 'CALLRESULT', action: 'MeterValues', uniqueId: 'm1', payload: {}, receivedAt: t0 + 120_010 },
  { direction: 'IN', kind: 'CALL', action: 'StopTransaction', uniqueId: 'x1', payload: { transactionId: 7, meterStop: 9000, timestamp: new Date(t0 + 180_000).toISOString() }, receivedAt: t0 + 180_000 },
  { direction: 'OUT', kind: 'CALLRESULT', action: 'StopTransaction', uniqueId: 'x1', payload: {}, receivedAt: t0 + 180_020 },
];

const root = path.join(__dirname, '..', '..');

/** Runs `voltstream <args>` as a user would (bin/voltstream.js), returning exit code and output. */
export const voltstream = (args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, [path.join(root, 'bin', 'voltstream.js'), ...args], { cwd: root, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? ((err as unknown as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
