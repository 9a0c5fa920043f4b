import { CliCommand, parseArgs } from '../command';
import { readFrames, toExportLine } from '../../audit/frames';
import { transcriptHeader, transcriptLine } from '../../audit/transcript';
import { auditClients, parseInstant, progressBar } from '../../audit/cli';

const usage = `Usage: voltstream transcript <chargePointId> [--from <iso>] [--to <iso>] [--json]

Prints one charger's OCPP conversation from the log (ocpp.frames), oldest first: receive time, chain seq,
direction (IN charger -> central system, OUT central system -> charger), frame kind, action, unique id, payload.

  --from <iso>   first instant to show (inclusive), e.g. 2026-01-31T06:00:00Z; default: start of the log
  --to <iso>     last instant (exclusive); default: now
  --json         one JSON line per frame (the record as logged, with partition and offset) instead of text;
                 the format \`voltstream verify --file\` checks

Environment: KAFKA_BROKERS, SCHEMA_REGISTRY_URL.`;

export const command: CliCommand = {
  name: 'transcript',
  summary: "Print a charger's OCPP conversation for a time range from ocpp.frames",
  usage,
  run: async (args) => {
    const { flags, positionals } = parseArgs(args);
    const cp = positionals[0];
    const from = parseInstant('from', flags.from);
    const to = parseInstant('to', flags.to);
    const errors = [!cp ? 'a chargePointId is required' : null, from.error, to.error].filter((e): e is string => !!e);
    if (errors.length) {
      console.error(`${errors.join('\n')}\n\n${usage}`);
      return 2;
    }
    const { kafka, serde } = auditClients();
    const bar = progressBar('reading ocpp.frames');
    const frames = await readFrames(kafka, serde, { chargePointId: cp!, fromMs: from.ms, toMs: to.ms, progress: bar.update });
    bar.done();
    frames.sort((a, b) => a.frame.seq - b.frame.seq);
    if (flags.json) {
      for (const f of frames) process.stdout.write(toExportLine(f) + '\n');
      return 0;
    }
    console.log(transcriptHeader(cp!, from.ms, to.ms, frames.length));
    for (const f of frames) console.log(transcriptLine(f.frame));
    return 0;
  },
};
