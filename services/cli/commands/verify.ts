import * as fs from 'node:fs';
import { CliCommand, parseArgs } from '../command';
import { LocatedFrame, parseExport, readFrames, toExportLine } from '../../audit/frames';
import { formatReport, verifyChains } from '../../audit/chain';
import { auditClients, checkpointStore, progressBar } from '../../audit/cli';
import { defaultAuditSchema } from '../../audit/checkpoint-store';
import { verifyAgainstCheckpoints } from '../../audit/verify-checkpoints';

const usage = `Usage: voltstream verify [--charger <chargePointId>] [--file <export.jsonl> | --topic <topic>] [--export <export.jsonl>] [--checkpoints off]

Checks the tamper-evident hash chain of ocpp.frames: per charger, every record's hash covers its content and the
previous record's hash, seq goes up by exactly 1, and the chain starts at seq 1 with the genesis hash. Then holds the
chains to the signed checkpoints stored outside Kafka (voltstream service audit-checkpoints): the record at every
checkpointed seq must be in the log, once, with the hash the checkpoint signed. Prints one line per charger and, for
a broken chain, the first broken link (seq, where it is, and why). What this proves: SECURITY.md, "Audit chain".

  --charger <id>      only this charger
  --file <path>       check a copied log instead of Kafka: JSON lines as written by --export or transcript --json
                      (a partial copy that starts mid-chain is checked from its first record on)
  --topic <topic>     read this topic instead of ocpp.frames (a mirror or a restored copy of it)
  --export <path>     also write the records read from Kafka to <path> (JSON lines), e.g. to archive or hand over
  --checkpoints off   check the hashes only (no checkpoint store at hand)

Exit status: 0 every chain intact and every checkpoint held, 1 a chain is broken or contradicts a checkpoint (or the
checkpoint store could not be read), 2 usage error.
Environment: KAFKA_BROKERS, SCHEMA_REGISTRY_URL; the checkpoint store: DATABASE_URL, AUDIT_SCHEMA (default audit);
the key that signed the checkpoints: AUDIT_CHECKPOINT_PUBLIC_KEY (PEM), else VOLTSTREAM_HOME/audit/checkpoint-key.pub.pem.`;

export const command: CliCommand = {
  name: 'verify',
  summary: 'Check the hash chain of ocpp.frames (or a copied log) against its signed checkpoints and name the first broken link',
  usage,
  run: async (args) => {
    const { flags } = parseArgs(args);
    const charger = typeof flags.charger === 'string' ? flags.charger : undefined;
    const valueFlags = ['charger', 'file', 'export', 'topic', 'checkpoints'] as const;
    if (valueFlags.some((f) => flags[f] === true) || (flags.file && (flags.export || flags.topic)) || (flags.checkpoints !== undefined && flags.checkpoints !== 'off')) {
      console.error(`--charger, --file, --topic and --export each take a value; --file goes with neither --export nor --topic; --checkpoints takes only off\n\n${usage}`);
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
      const bar = progressBar(`reading ${typeof flags.topic === 'string' ? flags.topic : 'ocpp.frames'}`);
      frames = await readFrames(kafka, serde, { chargePointId: charger, progress: bar.update, topic: typeof flags.topic === 'string' ? flags.topic : undefined });
      bar.done();
      fromGenesis = true;
      if (typeof flags.export === 'string') {
        fs.writeFileSync(flags.export, frames.map((f) => toExportLine(f) + '\n').join(''));
        console.log(`exported ${frames.length} record(s) to ${flags.export}`);
      }
    }
    const reports = verifyChains(frames, { fromGenesis });
    if (reports.length === 0) console.log(charger ? `no frames of ${charger}` : 'no frames');
    for (const l of formatReport(reports)) console.log(l);
    const broken = reports.filter((r) => r.broken).length;
    if (reports.length > 0) console.log(broken ? `${broken} of ${reports.length} chain(s) broken` : `${reports.length} chain(s) intact, ${frames.length} record(s)`);
    if (flags.checkpoints === 'off') return broken ? 1 : 0;

    const store = checkpointStore();
    try {
      const verdict = await verifyAgainstCheckpoints(frames, { ...store, schema: process.env.AUDIT_SCHEMA || defaultAuditSchema, wholeLog: fromGenesis }, charger);
      if (verdict.usage) {
        console.error(verdict.usage);
        return 2;
      }
      for (const l of verdict.lines) console.log(l);
      return broken || verdict.failed ? 1 : 0;
    } finally {
      await store.pool.end().catch(() => undefined);
    }
  },
};
