import * as E from 'fp-ts/Either';
import { decodeOcppCommand } from '../../schemas/command-record';
import { CommandResultCodec, decodeWith } from '../../schemas/records';
import { foldDocuments, ProjectionInput } from './projection';
import { commandsProjection } from './commands';

const right = <A>(e: E.Either<string, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left);
  return e.right;
};

const issued = (over: Record<string, unknown> = {}): ProjectionInput => ({
  kind: 'command',
  command: right(
    decodeOcppCommand({
      commandId: 'cmd-1', chargePointId: 'CP1', action: 'Reset', payloadJson: '{"type":"Soft"}', issuedBy: 'api:k1',
      issuedAt: new Date(Date.UTC(2026, 11, 7, 6)), expiresAt: null, planId: null, ...over,
    }),
  ),
});

const outcome = (over: Record<string, unknown> = {}): ProjectionInput => ({
  kind: 'commandResult',
  result: right(
    decodeWith(CommandResultCodec)({
      commandId: 'cmd-1', chargePointId: 'CP1', action: 'Reset', outcome: 'ACCEPTED', status: 'Accepted', responseJson: '{"status":"Accepted"}',
      detail: null, gatewayId: 'gw-1', completedAt: new Date(Date.UTC(2026, 11, 7, 6, 0, 2)), ...over,
    }),
  ),
});

const fold = (inputs: ProjectionInput[]) => [...foldDocuments(commandsProjection, inputs).values()];

describe('commands projection (ocpp.commands + ocpp.command-results)', () => {
  test('given an issued command, then one pending row with who issued it and its payload', () => {
    expect(fold([issued()])).toEqual([
      expect.objectContaining({ command_id: 'cmd-1', charge_point_id: 'CP1', action: 'Reset', payload: { type: 'Soft' }, issued_by: 'api:k1', issued_at: Date.UTC(2026, 11, 7, 6), outcome: null, completed_at: null }),
    ]);
  });

  test('given the command and its outcome, then the row carries both, in either order', () => {
    const both = fold([issued(), outcome()]);
    expect(both).toEqual([
      expect.objectContaining({ issued_by: 'api:k1', outcome: 'ACCEPTED', status: 'Accepted', response: { status: 'Accepted' }, gateway_id: 'gw-1', completed_at: Date.UTC(2026, 11, 7, 6, 0, 2) }),
    ]);
    expect(fold([outcome(), issued()])).toEqual(both);
  });

  test('given two outcomes of one command (delivered again after a reconnect), then the later one stands whatever the order', () => {
    const early = outcome({ outcome: 'TIMEOUT', status: null, responseJson: null, detail: 'no answer', completedAt: Date.UTC(2026, 11, 7, 6, 0, 30) });
    const late = outcome({ completedAt: Date.UTC(2026, 11, 7, 6, 1) });
    expect(fold([issued(), early, late])).toEqual(fold([late, issued(), early]));
    expect(fold([issued(), early, late])[0]).toMatchObject({ outcome: 'ACCEPTED', detail: null });
  });

  test('given the same command id written twice, then the earliest issue is the command', () => {
    const again = issued({ issuedAt: Date.UTC(2026, 11, 7, 7), issuedBy: 'optimizer' });
    expect(fold([issued(), again])[0]).toMatchObject({ issued_by: 'api:k1', issued_at: Date.UTC(2026, 11, 7, 6) });
    expect(fold([again, issued()])).toEqual(fold([issued(), again]));
  });

  test('given other inputs, then no row', () => {
    expect(commandsProjection.keyOf({ kind: 'event', event: { eventId: 'e', chargePointId: 'CP1', occurredAt: 0, source: null, body: { type: 'HeartbeatReceived' } } })).toBeUndefined();
  });
});
