/** Structured JSON logs on stderr, one object per line, so stdout stays free for CLI output. */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export const createLogger = (
  component: string,
  level: Level = (process.env.LOG_LEVEL as Level | undefined) ?? 'info',
  base: Record<string, unknown> = {},
  sink: (line: string) => void = (line) => process.stderr.write(line + '\n'),
): Logger => {
  const emit = (l: Level, msg: string, fields?: Record<string, unknown>) => {
    if (order[l] < order[level]) return;
    const err = fields?.err instanceof Error ? { err: fields.err.message, stack: fields.err.stack } : {};
    sink(JSON.stringify({ t: new Date().toISOString(), level: l, component, msg, ...base, ...fields, ...err }));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(component, level, { ...base, ...fields }, sink),
  };
};
