import { catalog, renamed } from '../../schemas/catalog';
import { ChargingEvent } from '../../schemas/events';
import { InputTopic, Received, StatefulFold } from '../runtime/fold';
import { ChargerFact, ChargerState, commandCompleted, decide, evolve } from './decide';
import { CommandResult, OcppFrame } from './frame';
import { chargerStore } from './store';

/** ocpp.frames + ocpp.command-results → charging.events: the normalizer as the fold runtime runs it. Frames fold
 *  into the state of their charger (./decide.ts); a command result is one CommandCompleted and changes no state. */
export type NormalizerInputs = {
  readonly frames: InputTopic<OcppFrame>;
  readonly commandResults: InputTopic<CommandResult>;
};

export type NormalizerInput = Received<NormalizerInputs>;

export const decideNormalizer = (state: ChargerState, input: NormalizerInput): readonly ChargerFact[] =>
  input.from === 'frames' ? decide(state, input.value, input.source) : [{ kind: 'published', event: commandCompleted(input.value, input.source) }];

/** The normalizer on the given topics (default: the catalog's; tests run on their own topics of the same schemas). */
export const normalizerFold = (topics?: { frames: string; commandResults: string; events: string }): StatefulFold<ChargerState, NormalizerInputs, ChargerFact, ChargingEvent> => ({
  name: 'normalizer',
  inputs: {
    frames: topics ? renamed(catalog.ocppFrames, topics.frames) : catalog.ocppFrames,
    commandResults: topics ? renamed(catalog.ocppCommandResults, topics.commandResults) : catalog.ocppCommandResults,
  },
  output: topics ? renamed(catalog.chargingEvents, topics.events) : catalog.chargingEvents,
  store: { ...chargerStore, input: 'frames', keyOf: (input) => (input.from === 'frames' ? input.value.chargePointId : (input.key ?? '')) },
  decide: decideNormalizer,
  evolve,
  publish: (f) => (f.kind === 'published' ? { key: f.event.chargePointId, value: f.event } : undefined),
});
