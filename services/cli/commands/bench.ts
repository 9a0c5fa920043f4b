import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliCommand } from '../command';
import { Benchmark, machine } from '../../../test/bench/benchmark';

const benchDir = path.join(__dirname, '..', '..', '..', 'test', 'bench');

const discover = (): Benchmark[] =>
  fs
    .readdirSync(benchDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(benchDir, d.name, 'bench.ts')))
    .map((d) => (require(path.join(benchDir, d.name, 'bench.ts')) as { benchmark: Benchmark }).benchmark)
    .sort((a, b) => a.name.localeCompare(b.name));

export const command: CliCommand = {
  name: 'bench',
  summary: 'Run benchmarks (all, or one by name) against the running stack',
  get usage() {
    return [
      'Usage: voltstream bench <all|name> [options]',
      '',
      'Benchmarks need the stack (voltstream stack up --detach). Each prints its figures and the machine it ran on.',
      '',
      ...discover().map((b) => `  ${b.name.padEnd(12)} ${b.summary}`),
      ...discover().flatMap((b) => (b.usage ? ['', b.usage] : [])),
    ].join('\n');
  },
  run: async (args) => {
    const [which = 'all', ...rest] = args;
    const all = discover();
    const chosen = which === 'all' ? all : all.filter((b) => b.name === which);
    if (chosen.length === 0) {
      console.error(`unknown benchmark '${which}'; known: ${all.map((b) => b.name).join(', ')}`);
      return 2;
    }
    console.log(`Machine: ${machine()}`);
    let failed = 0;
    for (const b of chosen) {
      console.log(`\n=== ${b.name}: ${b.summary}`);
      const code = await b.run(rest);
      if (code !== 0) failed++;
    }
    return failed ? 1 : 0;
  },
};
