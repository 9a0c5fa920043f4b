import { frameHash, GENESIS_HASH } from '../../schemas/frame-chain';
import { describeOrigin, LocatedFrame, Origin } from './frames';

/** Checks the tamper-evident chain of ocpp.frames (schemas/frame-chain.ts), per charger, in log order:
 *  each record's hash must be the hash of its content and prevHash, its prevHash the previous record's hash,
 *  its seq the previous seq + 1, and a chain read from the start of the log begins at seq 1 with the genesis hash.
 *  Pure: no I/O. */
export interface BrokenLink {
  readonly seq: number;
  readonly origin: Origin;
  readonly reason: string;
}

export interface ChainReport {
  readonly chargePointId: string;
  readonly records: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** The first broken link; later records are not judged (once broken, everything after is suspect). */
  readonly broken: BrokenLink | null;
  /** e.g. "starts at seq 40: earlier records are not in the input" for a partial export. */
  readonly note: string | null;
}

export interface VerifyOptions {
  /** The input holds each chain from its first record (the whole topic): require seq 1 and the genesis hash. */
  readonly fromGenesis: boolean;
}

interface Acc {
  chargePointId: string;
  records: number;
  firstSeq: number;
  lastSeq: number;
  lastHash: string;
  broken: BrokenLink | null;
  note: string | null;
}

const firstRecordProblem = (f: LocatedFrame['frame'], fromGenesis: boolean): { reason: string | null; note: string | null } => {
  if (f.seq === 1 && f.prevHash !== GENESIS_HASH) return { reason: `seq 1 must chain to the genesis hash, has prevHash ${f.prevHash.slice(0, 12)}…`, note: null };
  if (f.seq !== 1 && fromGenesis) return { reason: `the chain starts at seq ${f.seq}, not 1: records before it are missing from the log`, note: null };
  if (f.seq !== 1) return { reason: null, note: `starts at seq ${f.seq}: earlier records are not in the input, so its prevHash is not checked` };
  return { reason: null, note: null };
};

export const verifyChains = (frames: Iterable<LocatedFrame>, opts: VerifyOptions): ChainReport[] => {
  const chains = new Map<string, Acc>();
  for (const { origin, frame: f } of frames) {
    let acc = chains.get(f.chargePointId);
    const computed = frameHash(f.prevHash, f);
    if (!acc) {
      const first = firstRecordProblem(f, opts.fromGenesis);
      acc = { chargePointId: f.chargePointId, records: 0, firstSeq: f.seq, lastSeq: f.seq, lastHash: f.hash, broken: null, note: first.note };
      chains.set(f.chargePointId, acc);
      acc.records++;
      if (first.reason) acc.broken = { seq: f.seq, origin, reason: first.reason };
      else if (computed !== f.hash) acc.broken = { seq: f.seq, origin, reason: contentReason(f.hash, computed) };
      continue;
    }
    acc.records++;
    if (acc.broken) {
      acc.lastSeq = f.seq;
      continue;
    }
    const fail = (reason: string) => {
      acc!.broken = { seq: f.seq, origin, reason };
    };
    if (f.seq !== acc.lastSeq + 1) {
      fail(f.seq <= acc.lastSeq ? `seq ${f.seq} after seq ${acc.lastSeq}: records repeated or reordered` : `seq jumps from ${acc.lastSeq} to ${f.seq}: ${f.seq - acc.lastSeq - 1} record(s) missing`);
    } else if (f.prevHash !== acc.lastHash) {
      fail(`prevHash ${f.prevHash.slice(0, 12)}… is not the hash of seq ${acc.lastSeq} (${acc.lastHash.slice(0, 12)}…): the previous record was changed, dropped or replaced`);
    } else if (computed !== f.hash) {
      fail(contentReason(f.hash, computed));
    }
    acc.lastSeq = f.seq;
    acc.lastHash = f.hash;
  }
  return [...chains.values()].map(({ lastHash: _h, ...r }) => r);
};

const contentReason = (stored: string, computed: string) =>
  `content does not match its hash (stored ${stored.slice(0, 12)}…, computed ${computed.slice(0, 12)}…): the record was edited`;

export const formatReport = (reports: readonly ChainReport[]): string[] => {
  const lines: string[] = [];
  for (const r of [...reports].sort((a, b) => a.chargePointId.localeCompare(b.chargePointId))) {
    const span = `${r.records} record(s), seq ${r.firstSeq}..${r.lastSeq}`;
    if (r.broken) {
      lines.push(`BROKEN  ${r.chargePointId}: ${span}`);
      lines.push(`        first broken link: seq ${r.broken.seq} at ${describeOrigin(r.broken.origin)}`);
      lines.push(`        ${r.broken.reason}`);
    } else lines.push(`ok      ${r.chargePointId}: ${span}${r.note ? ` (${r.note})` : ''}`);
  }
  return lines;
};
