/** A `voltstream` sub-command. Each lives in services/cli/commands/<name>.ts and exports `command`. */
export interface CliCommand {
  readonly name: string;
  /** One line for `voltstream --help`. */
  readonly summary: string;
  /** Full help text for `voltstream <name> --help`. */
  readonly usage: string;
  /** Returns the process exit code. */
  run(args: readonly string[]): Promise<number>;
}

/** Minimal flag parser: `--key value`, `--key=value`, `--flag`; the rest are positionals. */
export const parseArgs = (args: readonly string[]): { flags: Record<string, string | true>; positionals: string[] } => {
  const flags: Record<string, string | true> = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags[a.slice(2, eq)] = a.slice(eq + 1);
      else if (args[i + 1] !== undefined && !args[i + 1]!.startsWith('--')) flags[a.slice(2)] = args[++i]!;
      else flags[a.slice(2)] = true;
    } else positionals.push(a);
  }
  return { flags, positionals };
};

export const wantsHelp = (args: readonly string[]) => args.includes('--help') || args.includes('-h');
