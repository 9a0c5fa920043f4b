import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliCommand } from './command';

/** `voltstream <command>`: every command is a module in ./commands exporting `command`. */
const loadCommands = (): CliCommand[] => {
  const dir = path.join(__dirname, 'commands');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => (require(path.join(dir, f)) as { command?: CliCommand }).command)
    .filter((c): c is CliCommand => c !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
};

const help = (commands: CliCommand[]) =>
  [
    'Usage: voltstream <command> [options]',
    '',
    'Voltstream: event-sourced smart charging for electric fleet depots.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`),
    '',
    'Run `voltstream <command> --help` for a command\'s options.',
  ].join('\n');

const main = async (argv: readonly string[]): Promise<number> => {
  const commands = loadCommands();
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help(commands));
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    console.error(`voltstream: unknown command '${name}'\n\n${help(commands)}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.usage);
    return 0;
  }
  return cmd.run(rest);
};

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`voltstream: ${(e as Error).message ?? String(e)}`);
    process.exitCode = 1;
  },
);
