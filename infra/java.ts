import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Finds a Java runtime of at least `minMajor`: JAVA_HOME, then every JDK under /usr/lib/jvm, then `java` on PATH.
 *  Kafka 4 runs on 17; Apicurio Registry 3 needs 21 or newer. */
export const javaMajor = (javaBin: string): number | undefined => {
  // `java -version` prints on stderr.
  const r = spawnSync(javaBin, ['-version'], { encoding: 'utf8' });
  return r.status === 0 ? parseMajor(`${r.stderr}${r.stdout}`) : undefined;
};

const parseMajor = (text: string): number | undefined => {
  const m = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return undefined;
  const major = Number(m[1]);
  return major === 1 ? Number(m[2]) : major;
};

const candidates = (): string[] => {
  const out: string[] = [];
  if (process.env.JAVA_HOME) out.push(path.join(process.env.JAVA_HOME, 'bin', 'java'));
  try {
    for (const d of fs.readdirSync('/usr/lib/jvm')) out.push(path.join('/usr/lib/jvm', d, 'bin', 'java'));
  } catch {
    /* no /usr/lib/jvm */
  }
  out.push('java');
  return out;
};

export const findJava = (minMajor: number): { bin: string; major: number } => {
  const seen: string[] = [];
  let best: { bin: string; major: number } | undefined;
  for (const bin of candidates()) {
    if (bin !== 'java' && !fs.existsSync(bin)) continue;
    const major = javaMajor(bin);
    seen.push(`${bin} (${major ?? 'unreadable'})`);
    if (major !== undefined && major >= minMajor && (!best || major < best.major)) best = { bin, major };
  }
  if (!best) throw new Error(`no Java ${minMajor}+ found; looked at: ${seen.join(', ') || 'nothing'}. Set JAVA_HOME to a JDK ${minMajor} or newer.`);
  return best;
};
