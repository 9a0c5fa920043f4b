import { randomUUID } from 'node:crypto';
import * as E from 'fp-ts/Either';
import { Pool } from 'pg';
import { Producer } from 'kafkajs';
import { DURABLE_ACKS } from '../common/kafka';
import { TopicSerde } from '../../schemas/registry';
import { Topics } from '../../schemas/topics';
import { Protocol } from '../ocpp-gateway/protocol';
import { checkCommandFor, isProtocol } from './ocpp-command-check';
import { OcppRequest } from './command-shortcuts';
import { chargerProtocol, CommandView, readCommand } from './command-view';

/** Commands the API sends on its own account (a local list sync, a reservation, stopping a blocked token's session):
 *  checked like an operator's command against the charger's version, written to ocpp.commands, and their outcome
 *  read back from the projection `commands`. */
export interface CommandRecord {
  readonly commandId: string;
  readonly chargePointId: string;
  readonly action: string;
  readonly payload: unknown;
  readonly issuedBy: string;
  readonly issuedAt: number;
  readonly expiresAt: number | null;
}

/** Writes one command to ocpp.commands; resolves once every in-sync replica has it. */
export const writeCommand = async (producer: Producer, serde: TopicSerde, c: CommandRecord): Promise<void> => {
  const value = await serde.encode(Topics.ocppCommands, {
    commandId: c.commandId,
    chargePointId: c.chargePointId,
    action: c.action,
    payloadJson: JSON.stringify(c.payload),
    issuedBy: c.issuedBy,
    issuedAt: c.issuedAt,
    expiresAt: c.expiresAt,
    planId: null,
  });
  await producer.send({ topic: Topics.ocppCommands, acks: DURABLE_ACKS, messages: [{ key: c.chargePointId, value, timestamp: String(c.issuedAt) }] });
};

export interface SendProblem {
  readonly status: 400 | 404 | 409;
  readonly title: string;
  readonly problems: string[];
}

export interface Sent {
  readonly commandId: string;
  readonly protocol: Protocol;
  readonly request: OcppRequest;
}

export interface CommandSender {
  /** The charger's version, or why no command can be built for it. */
  protocolOf(chargePointId: string): Promise<E.Either<SendProblem, Protocol>>;
  send(chargePointId: string, request: OcppRequest, issuedBy: string, expiresAt?: number): Promise<E.Either<SendProblem, Sent>>;
  /** The command once it has an outcome, or as it stands after `timeoutMs`. */
  outcome(commandId: string, timeoutMs: number): Promise<CommandView | undefined>;
}

const POLL_MS = 200;

export const createCommandSender = (d: { pool: Pool; projections: string; producer: Producer; serde: TopicSerde }): CommandSender => {
  const protocolOf = async (chargePointId: string): Promise<E.Either<SendProblem, Protocol>> => {
    const charger = await chargerProtocol(d.pool, d.projections, chargePointId);
    if (!charger.configured) return E.left({ status: 404, title: 'Unknown charger', problems: [`chargePointId: no charger ${chargePointId} is configured (PUT /api/v1/chargers/${chargePointId})`] });
    if (!isProtocol(charger.protocol)) return E.left({ status: 409, title: 'OCPP version unknown', problems: [`chargePointId: the OCPP version of ${chargePointId} is not known yet: it has not connected since it was configured`] });
    return E.right(charger.protocol);
  };
  return {
    protocolOf,
    send: async (chargePointId, request, issuedBy, expiresAt) => {
      const protocol = await protocolOf(chargePointId);
      if (E.isLeft(protocol)) return protocol;
      const checked = checkCommandFor(protocol.right, request.action, request.payload);
      if (E.isLeft(checked)) return E.left({ status: 400, title: `Not a valid ${protocol.right} command`, problems: checked.left });
      const commandId = randomUUID();
      await writeCommand(d.producer, d.serde, { commandId, chargePointId, action: request.action, payload: request.payload, issuedBy, issuedAt: Date.now(), expiresAt: expiresAt ?? null });
      return E.right({ commandId, protocol: protocol.right, request });
    },
    outcome: async (commandId, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const view = await readCommand(d.pool, d.projections, commandId);
        if ((view && view.status !== 'pending') || Date.now() >= deadline) return view;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    },
  };
};
