/** ocpp.frames records and their per-charger hash chain, pure. */
import { randomUUID } from 'node:crypto';
import { FrameDirection, GENESIS_HASH, OcppFrameRecord, frameHash } from '../../schemas/frame-chain';
import { Message, Protocol } from './protocol';

/** A frame before it is placed in its charger's chain. */
export type FrameDraft = Omit<FrameRecord, 'frameId' | 'seq' | 'prevHash' | 'hash'>;

export type FrameRecord = OcppFrameRecord<Protocol>;

/** The last record of a charger's chain. seq 0 with the genesis hash: nothing written yet (first record is seq 1). */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}
export const genesis: ChainHead = { seq: 0, hash: GENESIS_HASH };

export const chainFrame = (head: ChainHead, d: FrameDraft): { record: FrameRecord; head: ChainHead } => {
  const seq = head.seq + 1;
  const hash = frameHash(head.hash, { ...d, seq });
  return { record: { ...d, frameId: randomUUID(), seq, prevHash: head.hash, hash }, head: { seq, hash } };
};

export const messageDraft = (
  base: Pick<FrameDraft, 'chargePointId' | 'gatewayId' | 'protocol'>,
  direction: FrameDirection,
  m: Message,
  raw: string,
  at: number,
  extra: { action?: string | null; commandId?: string | null } = {},
): FrameDraft => ({
  ...base,
  direction,
  kind: m.kind,
  messageTypeId: m.messageTypeId,
  uniqueId: m.uniqueId,
  action: m.kind === 'CALL' ? m.action : (extra.action ?? null),
  payloadJson: m.kind === 'CALLERROR' ? null : JSON.stringify(m.payload),
  errorCode: m.kind === 'CALLERROR' ? m.errorCode : null,
  errorDescription: m.kind === 'CALLERROR' ? m.errorDescription : null,
  raw,
  receivedAt: at,
  commandId: extra.commandId ?? null,
});

export const connectionDraft = (
  base: Pick<FrameDraft, 'chargePointId' | 'gatewayId' | 'protocol'>,
  kind: 'CONNECTED' | 'DISCONNECTED',
  at: number,
  detail: string | null = null,
): FrameDraft => ({
  ...base,
  direction: 'IN',
  kind,
  messageTypeId: null,
  uniqueId: null,
  action: null,
  payloadJson: detail === null ? null : JSON.stringify({ detail }),
  errorCode: null,
  errorDescription: null,
  raw: '',
  receivedAt: at,
  commandId: null,
});
