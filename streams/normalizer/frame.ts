import { OcppFrameRecord } from '../../schemas/frame-chain';
import { CommandResult as CommandResultRecord } from '../../schemas/records';

/** A decoded ocpp.frames record, as the normalizer reads it (decoded by schemas/catalog.ts's catalog.ocppFrames). */
export type OcppFrame = OcppFrameRecord;

/** A decoded ocpp.command-results record (catalog.ocppCommandResults). */
export type CommandResult = CommandResultRecord;

/** Avro long / timestamp-millis may arrive as number, Long-like or Date: the domain wants epoch ms. */
export const millis = (v: unknown): number => (v instanceof Date ? v.getTime() : Number(v));
