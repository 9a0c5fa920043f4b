/** A decoded ocpp.frames record (schemas/avro/ocpp.frames.avsc), as the normalizer reads it. */
export interface OcppFrame {
  readonly frameId: string;
  readonly chargePointId: string;
  readonly gatewayId: string;
  readonly protocol: string;
  readonly direction: 'IN' | 'OUT';
  readonly kind: 'CALL' | 'CALLRESULT' | 'CALLERROR' | 'CONNECTED' | 'DISCONNECTED';
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

/** A decoded ocpp.command-results record. */
export interface CommandResult {
  readonly commandId: string;
  readonly chargePointId: string;
  readonly action: string;
  readonly outcome: string;
  readonly status: string | null;
  readonly responseJson: string | null;
  readonly detail: string | null;
  readonly gatewayId: string;
  readonly completedAt: number;
}

/** Avro long / timestamp-millis may arrive as number, Long-like or Date: the domain wants epoch ms. */
export const millis = (v: unknown): number => (v instanceof Date ? v.getTime() : Number(v));

export const normalizeFrame = (r: Record<string, unknown>): OcppFrame => ({ ...(r as unknown as OcppFrame), seq: millis(r.seq), receivedAt: millis(r.receivedAt) });
export const normalizeCommandResult = (r: Record<string, unknown>): CommandResult => ({ ...(r as unknown as CommandResult), completedAt: millis(r.completedAt) });
