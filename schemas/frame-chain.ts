import { createHash } from 'node:crypto';

/** Tamper evidence for ocpp.frames: every record carries the hash of the previous record of the same charger
 *  (`prevHash`) and its own `hash` over prevHash and its content. Editing, dropping or reordering a record breaks
 *  the chain at that record, which `voltstream verify` reports. */
export const GENESIS_HASH = '0'.repeat(64);

export type FrameDirection = 'IN' | 'OUT';
export type FrameKind = 'CALL' | 'CALLRESULT' | 'CALLERROR' | 'CONNECTED' | 'DISCONNECTED';

/** An ocpp.frames record (schemas/avro/ocpp.frames.avsc): what the gateway writes and every reader decodes. */
export interface OcppFrameRecord<P extends string = string> {
  readonly frameId: string;
  readonly chargePointId: string;
  readonly gatewayId: string;
  readonly protocol: P;
  readonly direction: FrameDirection;
  readonly kind: FrameKind;
  readonly messageTypeId: number | null;
  readonly uniqueId: string | null;
  readonly action: string | null;
  readonly payloadJson: string | null;
  readonly errorCode: string | null;
  readonly errorDescription: string | null;
  readonly raw: string;
  readonly seq: number;
  readonly receivedAt: number;
  readonly commandId: string | null;
  readonly prevHash: string;
  readonly hash: string;
}

/** Every field of the record except frameId (a random id assigned after hashing) and the two hashes themselves. */
export interface ChainedContent {
  readonly chargePointId: string;
  readonly gatewayId: string;
  readonly protocol: string;
  readonly messageTypeId: number | null;
  readonly errorDescription: string | null;
  readonly commandId: string | null;
  readonly seq: number;
  readonly direction: string;
  readonly kind: string;
  readonly uniqueId: string | null;
  readonly action: string | null;
  readonly payloadJson: string | null;
  readonly errorCode: string | null;
  readonly raw: string;
  readonly receivedAt: number;
}

export const frameHash = (prevHash: string, c: ChainedContent): string =>
  createHash('sha256')
    .update(prevHash)
    .update('\n')
    .update(
      JSON.stringify([
        c.chargePointId, c.seq, c.direction, c.kind, c.uniqueId, c.action, c.payloadJson, c.errorCode, c.raw, c.receivedAt,
        c.gatewayId, c.protocol, c.messageTypeId, c.errorDescription, c.commandId,
      ]),
    )
    .digest('hex');
