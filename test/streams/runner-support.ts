import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';

/** Child-process instances of a processor for the takeover tests (normalizer, vehicle tracker): started, watched
 *  through what they print, SIGKILLed. */
const root = path.join(__dirname, '..', '..');

export interface Runner {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  instance(): string | undefined;
  /** Partitions of the watched topic this instance committed a transaction for. */
  watchedPartitions(): ReadonlySet<number>;
  commits(): number;
  /** Resolves at the next committed transaction of this instance. */
  nextCommit(): Promise<void>;
}

/** Starts a child-process runner (`node -r tsx/cjs test/streams/<script>`) that prints `instance <id>` and
 *  `committed <topic> <partition> ...` per committed transaction; `watched`: the topic whose partitions are counted. */
export const startRunner = (script: string, env: NodeJS.ProcessEnv, watched: string): Runner => {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', path.join(__dirname, script)], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let instance: string | undefined;
  let commits = 0;
  const partitions = new Set<number>();
  let waiters: (() => void)[] = [];
  let rest = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) {
      const [what, topic, partition] = l.split(' ');
      if (what === 'instance') instance = topic;
      if (what !== 'committed') continue;
      commits++;
      if (topic === watched) partitions.add(Number(partition));
      for (const w of waiters) w();
      waiters = [];
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => process.stderr.write(`[${script} ${child.pid}] ${c}`));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    instance: () => instance,
    watchedPartitions: () => partitions,
    commits: () => commits,
    nextCommit: () =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`instance ${instance} committed nothing for 60 s (${commits} commits so far)`)), 60_000);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
};

export const until = async (what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 120_000) => {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

