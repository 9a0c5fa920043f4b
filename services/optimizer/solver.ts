import { Worker } from 'node:worker_threads';
import { LpModel, SimplexBasis, SolveOutput } from './formulation';

/** HiGHS (npm `highs`, WebAssembly) behind one small interface. In the service it runs in a worker thread: a solve
 *  never blocks the Kafka consumer, and a WebAssembly abort (the module is unusable afterwards) or a solve past its
 *  deadline only costs that worker, which is replaced for the next solve. */
export interface Solver {
  solve(model: LpModel, opts?: SolveOptions): Promise<SolveOutput>;
  close(): Promise<void>;
}

/** The worker solver can also be told to abort as the WebAssembly module would (tests of the recovery path). */
export interface WorkerSolver extends Solver {
  simulateAbort(): Promise<void>;
}

export interface SolveOptions {
  readonly timeLimitS?: number;
  /** HiGHS LP algorithm; 'auto': dual simplex for small models, interior point (without crossover) from
   *  IPM_FROM_COLUMNS columns, where it was 2-3x faster on depot models. */
  readonly algorithm?: 'auto' | 'simplex' | 'ipm';
  /** The basis of an earlier solve of a model of the same shape (the same columns and rows, e.g. the same snapshot with
   *  another tariff): solved by dual simplex from it. Ignored when the shape differs. */
  readonly warmStart?: SimplexBasis | null;
  /** Return the optimal basis for the next plan's warm start; an interior-point solve then runs crossover to a vertex
   *  (a third of its time on depot models), a simplex solve has one anyway. */
  readonly withBasis?: boolean;
}

export const IPM_FROM_COLUMNS = 30000;

/** A warm start that fits the model, or null. */
const startFor = (model: LpModel, opts: SolveOptions): SimplexBasis | null =>
  opts.warmStart && opts.warmStart.colStatus.length === model.numCols && opts.warmStart.rowStatus.length === model.numRows ? opts.warmStart : null;

const algorithmFor = (model: LpModel, opts: SolveOptions): 'simplex' | 'ipm' =>
  startFor(model, opts) ? 'simplex' : opts.algorithm === 'simplex' || opts.algorithm === 'ipm' ? opts.algorithm : model.numCols >= IPM_FROM_COLUMNS ? 'ipm' : 'simplex';

export class SolverFailed extends Error {
  constructor(
    message: string,
    readonly retriable: boolean,
  ) {
    super(message);
    this.name = 'SolverFailed';
  }
}

const statusNames: Record<number, string> = {
  0: 'NotSet', 1: 'LoadError', 2: 'ModelError', 3: 'PresolveError', 4: 'SolveError', 5: 'PostsolveError', 6: 'Empty',
  7: 'Optimal', 8: 'Infeasible', 9: 'UnboundedOrInfeasible', 10: 'Unbounded', 11: 'ObjectiveBound', 12: 'ObjectiveTarget',
  13: 'TimeLimit', 14: 'IterationLimit', 15: 'Unknown', 16: 'SolutionLimit', 17: 'Interrupted',
};

interface HighsLike {
  createModel(m: unknown): {
    options: { set(o: Record<string, unknown>): void };
    run(): { modelStatus: number };
    getSolution(): { colValue: Float64Array };
    getBasis(): { colStatus: Int32Array; rowStatus: Int32Array };
    setBasis(b: { colStatus: Int32Array; rowStatus: Int32Array }): unknown;
    getObjectiveValue(): number;
    dispose(): void;
  };
}

/** Self-contained (it is also shipped to the worker as source text): no imports, no closures. */
function solveCore(
  highs: HighsLike,
  model: unknown,
  timeLimitS: number,
  algorithm: string,
  start: { colStatus: Int32Array; rowStatus: Int32Array } | null,
  withBasis: boolean,
): { code: number; colValue: Float64Array | null; objective: number; solveMs: number; basis: { colStatus: Int32Array; rowStatus: Int32Array } | null } {
  const t0 = performance.now();
  const m = highs.createModel(model);
  try {
    // Interior point stops at a 1e-6 relative optimality gap without crossover to a vertex: on depot models the
    // crossover was a third of the solve, and a plan does not need a basic solution, unless its basis is wanted.
    const ipm = algorithm === 'ipm' ? (withBasis ? { run_crossover: 'on' } : { run_crossover: 'off', ipm_optimality_tolerance: 1e-6 }) : {};
    m.options.set({ output_flag: false, time_limit: timeLimitS, presolve: 'on', solver: algorithm, ...ipm });
    if (start) m.setBasis(start);
    const r = m.run();
    const ok = r.modelStatus === 7 || r.modelStatus === 13 || r.modelStatus === 14;
    const colValue = ok ? Float64Array.from(m.getSolution().colValue) : null;
    const b = ok && (algorithm === 'simplex' || withBasis) ? m.getBasis() : null;
    const basis = b ? { colStatus: Int32Array.from(b.colStatus), rowStatus: Int32Array.from(b.rowStatus) } : null;
    return { code: r.modelStatus, colValue, objective: ok ? m.getObjectiveValue() : NaN, solveMs: performance.now() - t0, basis };
  } finally {
    m.dispose();
  }
}

const toOutput = (r: ReturnType<typeof solveCore>): SolveOutput => ({
  status: statusNames[r.code] ?? `Status${r.code}`,
  colValue: r.code === 7 ? r.colValue : null,
  objective: r.objective,
  solveMs: r.solveMs,
  basis: r.code === 7 ? r.basis : null,
});

const emptyModel = (m: LpModel): SolveOutput | null =>
  m.numCols === 0 ? { status: 'Optimal', colValue: new Float64Array(0), objective: 0, solveMs: 0 } : null;

/** Solves on the calling thread: unit tests and the benchmark's inner loop. */
export const createInProcessSolver = async (): Promise<Solver> => {
  const highs = (await (require('highs') as () => Promise<HighsLike>)()) as HighsLike;
  return {
    solve: async (model, opts = {}) => emptyModel(model) ?? toOutput(solveCore(highs, model, opts.timeLimitS ?? 30, algorithmFor(model, opts), startFor(model, opts), opts.withBasis === true)),
    close: async () => undefined,
  };
};

const workerSource = (highsPath: string): string => `
const { parentPort } = require('node:worker_threads');
const solveCore = ${solveCore.toString()};
const ready = require(${JSON.stringify(highsPath)})();
parentPort.on('message', async (msg) => {
  try {
    const highs = await ready;
    if (msg.abortForTest) throw new WebAssembly.RuntimeError('abort(simulated)');
    const r = solveCore(highs, msg.model, msg.timeLimitS, msg.algorithm, msg.start || null, msg.withBasis === true);
    const transfer = r.colValue ? [r.colValue.buffer] : [];
    if (r.basis) transfer.push(r.basis.colStatus.buffer, r.basis.rowStatus.buffer);
    parentPort.postMessage({ id: msg.id, result: r }, transfer);
  } catch (e) {
    const text = String((e && e.message) || e);
    // After an abort the WebAssembly instance is unusable: end this worker, the parent starts a fresh one.
    const fatal = e instanceof WebAssembly.RuntimeError || /abort/i.test(text);
    parentPort.postMessage({ id: msg.id, error: text, fatal });
    if (fatal) process.exit(1);
  }
});
`;

interface Pending {
  worker: Worker;
  resolve(o: SolveOutput): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** One worker thread (the machine is shared; solves are serialised per process), recreated after a crash or a timeout. */
export const createWorkerSolver = (opts: { timeoutMs?: number } = {}): WorkerSolver => {
  const timeoutMs = opts.timeoutMs ?? 20000;
  const source = workerSource(require.resolve('highs'));
  let worker: Worker | null = null;
  let nextId = 1;
  const pending = new Map<number, Pending>();
  let chain: Promise<unknown> = Promise.resolve();

  const failAll = (err: Error, of?: Worker) => {
    for (const [id, p] of pending) {
      if (of && p.worker !== of) continue;
      clearTimeout(p.timer);
      p.reject(err);
      pending.delete(id);
    }
  };

  const spawn = (): Worker => {
    const w = new Worker(source, { eval: true });
    w.unref();
    w.on('message', (msg: { id: number; result?: ReturnType<typeof solveCore>; error?: string; fatal?: boolean }) => {
      if (msg.fatal && worker === w) worker = null;
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.error !== undefined) p.reject(new SolverFailed(msg.error, true));
      else p.resolve(toOutput(msg.result!));
    });
    w.on('error', (e) => failAll(new SolverFailed(`solver worker error: ${e.message}`, true), w));
    w.on('exit', (code) => {
      if (worker === w) worker = null;
      failAll(new SolverFailed(`solver worker exited (${code})`, true), w);
    });
    return w;
  };

  const run = (model: LpModel | null, timeLimitS: number, algorithm = 'simplex', start: SimplexBasis | null = null, withBasis = false): Promise<SolveOutput> =>
    new Promise<SolveOutput>((resolve, reject) => {
      worker ??= spawn();
      const w = worker;
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new SolverFailed(`solve exceeded ${timeoutMs} ms`, true));
        if (worker === w) worker = null;
        void w.terminate();
      }, timeoutMs);
      pending.set(id, { worker: w, resolve, reject, timer });
      w.postMessage(model ? { id, model, timeLimitS, algorithm, start, withBasis } : { id, abortForTest: true });
    });

  return {
    solve: (model, o = {}) => {
      const empty = emptyModel(model);
      if (empty) return Promise.resolve(empty);
      const result = chain.then(() => run(model, o.timeLimitS ?? Math.max(1, timeoutMs / 1000 - 1), algorithmFor(model, o), startFor(model, o), o.withBasis === true));
      chain = result.catch(() => undefined);
      return result;
    },
    simulateAbort: async () => {
      const result = chain.then(() => run(null, 1));
      chain = result.catch(() => undefined);
      await result.catch(() => undefined);
    },
    close: async () => {
      const w = worker;
      worker = null;
      failAll(new SolverFailed('solver closed', false));
      if (w) await w.terminate();
    },
  };
};

