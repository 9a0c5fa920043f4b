import { OcppFrameRecord } from '../../schemas/frame-chain';

/** A decoded ocpp.frames record, as the normalizer reads it. */
export type OcppFrame = OcppFrameRecord;

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
