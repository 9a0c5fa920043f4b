import * as os from 'node:os';

/** A benchmark: test/bench/<name>/bench.ts exports `benchmark`. Each prints what it measured, against what baseline,
 *  on how many cores, and shows progress while it runs. */
export interface Benchmark {
  readonly name: string;
  readonly summary: string;
  /** Its options, for `voltstream bench --help`. */
  readonly usage?: string;
  run(args: readonly string[]): Promise<number>;
}

export const machine = (): string => `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;

/** A one-line progress bar on stderr, redrawn in place. */
export const progress = (label: string, total: number) => {
  let last = 0;
  return {
    tick: (done: number, extra = '') => {
      const now = Date.now();
      if (now - last < 200 && done < total) return;
      last = now;
      const width = 30;
      const filled = Math.round((done / Math.max(total, 1)) * width);
      process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${extra}   `);
      if (done >= total) process.stderr.write('\n');
    },
  };
};

export const percentile = (sorted: readonly number[], p: number): number => {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
};
