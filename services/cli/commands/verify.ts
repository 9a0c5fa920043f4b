import * as fs from 'node:fs';
import { CliCommand, parseArgs } from '../command';
import { LocatedFrame, parseExport, readFrames, toExportLine } from '../../audit/frames';
import { formatReport, verifyChains } from '../../audit/chain';
import { auditClients, progressBar } from '../../audit/cli';

const usage = `Usage: voltstream verify [--charger <chargePointId>] [--file <export.jsonl>] [--export <export.jsonl>]

Checks the tamper-evident hash chain of ocpp.frames: per charger, every record's hash covers its content and the
previous record's hash, seq goes up by exactly 1, and the chain starts at seq 1 with the genesis hash. Prints one
line per charger and, for a broken chain, the first broken link (seq, where it is, and why).

  --charger <id>     only this charger
  --file <path>      check a copied log instead of Kafka: JSON lines as written by --export or transcript --json
                     (a partial copy that starts mid-chain is checked from its first record on)
  --export <path>    also write the records read from Kafka to <path> (JSON lines), e.g. to archive or hand over

Exit status: 0 every chain intact, 1 a chain is broken, 2 usage error.
Environment: KAFKA_BROKERS, SCHEMA_REGISTRY_URL.`;

export const command: CliCommand = {
  name: 'verify',
  summary: 'Check the hash chain of ocpp.frames (or a copied log) and name the first broken link',
  usage,
  run: async (args) => {
    const { flags } = parseArgs(args);
    const charger = typeof flags.charger === 'string' ? flags.charger : undefined;
    if (flags.charger === true || flags.file === true || flags.export === true || (flags.file && flags.export)) {
      console.error(`--charger, --file and --export each take a value; --file and --export don't go together\n\n${usage}`);
      return 2;
    }
    let frames: LocatedFrame[];
    let fromGenesis: boolean;
    if (typeof flags.file === 'string') {
      if (!fs.existsSync(flags.file)) {
        console.error(`no such file: ${flags.file}`);
        return 2;
      }
      const parsed = parseExport(fs.readFileSync(flags.file, 'utf8'), flags.file);
      for (const p of parsed.problems) console.log(`BROKEN  ${p}`);
      if (parsed.problems.length) return 1;
      frames = parsed.frames.filter((f) => !charger || f.frame.chargePointId === charger);
      fromGenesis = false;
    } else {
      const { kafka, serde } = auditClients();
      const bar = progressBar('reading ocpp.frames');
      frames = await readFrames(kafka, serde, { chargePointId: charger, progress: bar.update });
      bar.done();
      fromGenesis = true;
      if (typeof flags.export === 'string') {
        fs.writeFileSync(flags.export, frames.map((f) => toExportLine(f) + '\n').join(''));
        console.log(`exported ${frames.length} record(s) to ${flags.export}`);
      }
    }
    const reports = verifyChains(frames, { fromGenesis });
    if (reports.length === 0) {
      console.log(charger ? `no frames of ${charger}` : 'no frames');
      return 0;
    }
    for (const l of formatReport(reports)) console.log(l);
    const broken = reports.filter((r) => r.broken).length;
    console.log(broken ? `${broken} of ${reports.length} chain(s) broken` : `${reports.length} chain(s) intact, ${frames.length} record(s)`);
    return broken ? 1 : 0;
  },
};
