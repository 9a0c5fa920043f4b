import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { decodeWith, Millis } from './records';

/** An ocpp.commands record (schemas/avro/ocpp.commands.avsc) as the registry client hands it over, decoded to the
 *  domain type: a command for one charger. Its outcome is records.ts's CommandResultCodec (ocpp.command-results). */
export const OcppCommandCodec = t.type({
  commandId: t.string,
  chargePointId: t.string,
  action: t.string,
  payloadJson: t.string,
  issuedBy: t.string,
  issuedAt: Millis,
  expiresAt: t.union([Millis, t.null]),
  planId: t.union([t.string, t.null]),
});

export type OcppCommandRecord = t.TypeOf<typeof OcppCommandCodec>;

export const decodeOcppCommand = (u: unknown): E.Either<string, OcppCommandRecord> => decodeWith(OcppCommandCodec)(u);
