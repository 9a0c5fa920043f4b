import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** `voltstream start` runs every service as a process of its own (`voltstream service <name>`), as a deployment
 *  would: the gateway's event loop never shares a thread with a processor or the optimizer. This keeps them running:
 *  a process that exits unexpectedly is started again with backoff (and said so on the console), its output goes to
 *  a log file of its own, and stop sends SIGTERM to all and SIGKILL to what has not exited after a grace period. */
export interface ServiceProcessSpec {
  readonly name: string;
  /** Its /health URL, to know when it answers. */
  readonly healthUrl: string;
  readonly env: NodeJS.ProcessEnv;
  /** Nice value of its process (services.ts); default 0. */
  readonly nice?: number;
}

export interface ServiceProcessStatus {
  readonly name: string;
  readonly pid: number | undefined;
  readonly restarts: number;
  readonly logFile: string;
  readonly healthUrl: string;
  readonly nice: number;
}

export interface ServiceProcesses {
  /** Resolves once every process answers on its /health URL (any status), or rejects naming those that don't. */
  answering(timeoutMs: number): Promise<void>;
  status(): ServiceProcessStatus[];
  stop(graceMs?: number): Promise<void>;
}

const root = path.join(__dirname, '..', '..');
const cli = path.join(root, 'bin', 'voltstream.js');

const answers = (url: string) =>
  fetch(url, { signal: AbortSignal.timeout(1000) }).then(
    () => true,
    () => false,
  );

const lowerPriority = (name: string, pid: number, nice: number, say: (line: string) => void) => {
  try {
    os.setPriority(pid, nice);
  } catch (e) {
    say(`  ${name}: could not set its priority to nice ${nice} (${(e as Error).message}); it runs at the default`);
  }
};

export const startServiceProcesses = (specs: readonly ServiceProcessSpec[], o: { logDir: string; say: (line: string) => void }): ServiceProcesses => {
  fs.mkdirSync(o.logDir, { recursive: true });
  let stopping = false;
  const children = new Map<string, { child: ChildProcess | undefined; restarts: number; backoffMs: number; startedAt: number; timer?: NodeJS.Timeout }>();
  const logFile = (name: string) => path.join(o.logDir, `${name}.log`);

  const launch = (spec: ServiceProcessSpec) => {
    const entry = children.get(spec.name) ?? { child: undefined, restarts: 0, backoffMs: 1000, startedAt: 0 };
    children.set(spec.name, entry);
    const out = fs.openSync(logFile(spec.name), 'a');
    // Its own process group, so a terminal's Ctrl-C reaches only `voltstream start`, which stops the services in order;
    // the IPC channel closes when `start` dies however it dies, and the service then stops itself.
    const child = spawn(process.execPath, [cli, 'service', spec.name], { cwd: root, env: spec.env, stdio: ['ignore', out, out, 'ipc'], detached: true });
    fs.closeSync(out);
    if (spec.nice && child.pid !== undefined) lowerPriority(spec.name, child.pid, spec.nice, o.say);
    entry.child = child;
    entry.startedAt = Date.now();
    child.once('exit', (code, signal) => {
      entry.child = undefined;
      if (stopping) return;
      // A process that ran for a while before it died starts again soon; one that dies at once backs off.
      if (Date.now() - entry.startedAt > 60000) entry.backoffMs = 1000;
      o.say(`  ${spec.name} exited (${signal ?? `code ${code}`}); restarting in ${(entry.backoffMs / 1000).toFixed(0)} s (log: ${logFile(spec.name)})`);
      entry.timer = setTimeout(() => {
        if (stopping) return;
        entry.restarts++;
        launch(spec);
      }, entry.backoffMs);
      entry.backoffMs = Math.min(30000, entry.backoffMs * 2);
    });
  };
  for (const s of specs) launch(s);

  return {
    answering: async (timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      let silent = [...specs];
      while (silent.length) {
        const answered = await Promise.all(silent.map((s) => answers(s.healthUrl)));
        silent = silent.filter((_, i) => !answered[i]);
        if (!silent.length) return;
        if (Date.now() > deadline) throw new Error(`not answering after ${timeoutMs / 1000} s: ${silent.map((s) => `${s.name} (log: ${logFile(s.name)})`).join(', ')}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    },
    status: () =>
      specs.map((s) => {
        const e = children.get(s.name);
        return { name: s.name, pid: e?.child?.pid, restarts: e?.restarts ?? 0, logFile: logFile(s.name), healthUrl: s.healthUrl, nice: s.nice ?? 0 };
      }),
    stop: async (graceMs = 20000) => {
      stopping = true;
      const exits: Promise<void>[] = [];
      for (const [name, e] of children) {
        if (e.timer) clearTimeout(e.timer);
        const child = e.child;
        if (!child || child.exitCode !== null) continue;
        exits.push(
          new Promise<void>((resolve) => {
            const kill = setTimeout(() => {
              o.say(`  ${name} did not stop within ${graceMs / 1000} s: killed`);
              child.kill('SIGKILL');
            }, graceMs);
            child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill('SIGTERM');
          }),
        );
      }
      await Promise.all(exits);
    },
  };
};
