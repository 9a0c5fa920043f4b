/** The overload driver in a process of its own, so that 1,000 clients don't share an event loop with the gateway
 *  they measure (test/gateway/overload.test.ts runs the gateway in-process). `forkDriver` gives the same Driver. */
import { fork } from 'node:child_process';
import { BurstReport, Charger, createDriver, Driver, RateReport, Second } from './driver';

type Request =
  | { type: 'burst'; seconds: number; untilConnectedMaxS?: number }
  | { type: 'rate'; rate: number; seconds: number }
  | { type: 'connected' }
  | { type: 'close' };

type Reply = { type: 'second'; second: Second } | { type: 'burst'; report: BurstReport } | { type: 'rate'; report: RateReport } | { type: 'connected'; count: number } | { type: 'closed' };

export const forkDriver = (endpoint: string, list: readonly Charger[], opts: { callTimeoutMs?: number; handshakeTimeoutMs?: number } = {}): Driver & { connectedNow(): Promise<number> } => {
  const child = fork(__filename, [], { execArgv: ['-r', 'tsx/cjs'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, OVERLOAD_DRIVER_CHILD: '1' } });
  child.send({ type: 'init', endpoint, list, opts });
  let onSecond: ((s: Second) => void) | undefined;
  const waiting = new Map<string, (r: Reply) => void>();
  let connected = 0;
  child.on('message', (m: Reply) => {
    if (m.type === 'second') {
      connected = m.second.connected;
      onSecond?.(m.second);
      return;
    }
    const w = waiting.get(m.type);
    waiting.delete(m.type);
    w?.(m);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ask = <R extends Reply>(req: Request, answer: R['type']) =>
    new Promise<R>((resolve, reject) => {
      waiting.set(answer, resolve as (r: Reply) => void);
      void exited.then(() => reject(new Error('overload driver process exited')));
      child.send(req);
    });
  return {
    burst: async (seconds, cb, untilConnectedMaxS) => {
      onSecond = cb;
      return (await ask<{ type: 'burst'; report: BurstReport }>({ type: 'burst', seconds, untilConnectedMaxS }, 'burst')).report;
    },
    fixedRate: async (rate, seconds) => (await ask<{ type: 'rate'; report: RateReport }>({ type: 'rate', rate, seconds }, 'rate')).report,
    connected: () => connected,
    connectedNow: async () => (await ask<{ type: 'connected'; count: number }>({ type: 'connected' }, 'connected')).count,
    close: async () => {
      if (child.exitCode !== null) return;
      await ask({ type: 'close' }, 'closed').catch(() => undefined);
      await exited;
    },
  };
};

if (process.env.OVERLOAD_DRIVER_CHILD === '1' && process.send) {
  let driver: Driver | undefined;
  const send = (m: Reply) => process.connected && process.send!(m);
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: Request | { type: 'init'; endpoint: string; list: Charger[]; opts: { callTimeoutMs?: number; handshakeTimeoutMs?: number } }) => {
    void (async () => {
      if (m.type === 'init') driver = createDriver(m.endpoint, m.list, m.opts);
      else if (m.type === 'burst') send({ type: 'burst', report: await driver!.burst(m.seconds, (second) => send({ type: 'second', second }), m.untilConnectedMaxS) });
      else if (m.type === 'rate') send({ type: 'rate', report: await driver!.fixedRate(m.rate, m.seconds) });
      else if (m.type === 'connected') send({ type: 'connected', count: driver!.connected() });
      else if (m.type === 'close') {
        await driver?.close();
        send({ type: 'closed' });
        process.exit(0);
      }
    })();
  });
}
