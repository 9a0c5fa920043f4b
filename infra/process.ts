import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** Background processes of the local stack: started detached with their output in a log file and their pid in a
 *  pid file, so a later `stack down` (or CI's cleanup) finds and stops them. */
export interface Daemon {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
}

export const readPid = (pidFile: string): number | undefined => {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
};

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export const spawnDaemon = (
  name: string,
  command: string,
  args: readonly string[],
  opts: { pidFile: string; logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): Daemon => {
  fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
  fs.mkdirSync(path.dirname(opts.pidFile), { recursive: true });
  const out = fs.openSync(opts.logFile, 'a');
  const child = spawn(command, [...args], {
    detached: true,
    stdio: ['ignore', out, out],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  child.unref();
  fs.writeFileSync(opts.pidFile, String(child.pid));
  return { name, pid: child.pid, logFile: opts.logFile };
};

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export const stopPid = async (pid: number, graceMs = 20000): Promise<'stopped' | 'killed' | 'not running'> => {
  if (!isAlive(pid)) return 'not running';
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    process.kill(pid, 'SIGTERM');
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return 'stopped';
    await sleep(100);
  }
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  while (isAlive(pid)) await sleep(50);
  return 'killed';
};

/** Stops the daemon whose pid `pidFile` holds and removes the file. */
export const stopDaemon = async (pidFile: string, graceMs: number): Promise<string> => {
  const pid = readPid(pidFile);
  if (!pid) return 'not running';
  const r = await stopPid(pid, graceMs);
  fs.rmSync(pidFile, { force: true });
  return r;
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const portOpen = (port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });

/** Thrown by a readiness check that knows waiting longer is pointless (the process died). */
export class StopWaiting extends Error {}

/** Polls `check` until it answers true; the error names what was awaited and where its log is. */
export const waitUntil = async (label: string, check: () => Promise<boolean>, timeoutMs: number, hint = ''): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await check().catch((e: unknown) => {
      if (e instanceof StopWaiting) throw e;
      return false;
    });
    if (ok) return;
    await sleep(250);
  }
  throw new Error(`${label} not ready after ${Math.round(timeoutMs / 1000)} s${hint ? `: ${hint}` : ''}`);
};

export const tailFile = (file: string, lines = 20): string => {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
};

export const commandExists = (cmd: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
