import ModbusRTU from 'modbus-serial';
import { Problem } from './plausibility';
import { PollResult } from './ingest';
import { decodeRegister, Quantity, widthOf } from './register-map';
import { ModbusMeter } from './sites';

/** One Modbus TCP connection to one meter, and one read of its register map (modbus-serial, a maintained Modbus
 *  library). Every failure becomes a `failed` PollResult with a reason, never an exception:
 *  - connection refused or not established within timeoutMs: code `connection`;
 *  - no answer within timeoutMs: code `timeout` (the connection is then dropped: a late answer would be taken for
 *    the next request's);
 *  - an exception response (illegal address, device busy, …): code `modbus_exception`, with the exception code;
 *  - a register that holds no number (float NaN/∞): code `invalid_value`.
 *  A read of all registers of a meter that succeeds is a `reading` candidate, measured when the last answer came. */
export interface MeterConnection {
  read(meterId: string, now: () => number): Promise<PollResult>;
  close(): Promise<void>;
}

interface RegisterTrace {
  readonly quantity: Quantity;
  readonly address: number;
  readonly words?: readonly number[];
  readonly error?: string;
}

const exceptionNames: Readonly<Record<number, string>> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

const classify = (e: unknown, where: string): Problem => {
  const err = e as { modbusCode?: number; errno?: string; code?: string; message?: string };
  if (typeof err.modbusCode === 'number') return { code: 'modbus_exception', message: `${where}: Modbus exception ${err.modbusCode} (${exceptionNames[err.modbusCode] ?? 'unknown'})` };
  if (err.errno === 'ETIMEDOUT' || /timed out/i.test(err.message ?? '')) return { code: 'timeout', message: `${where}: no answer (timed out)` };
  return { code: 'connection', message: `${where}: ${err.message ?? String(e)}${err.code ? ` (${err.code})` : ''}` };
};

const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(Object.assign(new Error(`${what} timed out after ${ms} ms`), { errno: 'ETIMEDOUT' })), ms);
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e: unknown) => (clearTimeout(timer), reject(e)),
    );
  });

export const connectMeter = (m: ModbusMeter, timeoutMs: number, onError: (e: Error) => void): MeterConnection => {
  let client: ModbusRTU | null = null;
  const where = `${m.host}:${m.port} unit ${m.unitId}`;

  const drop = async () => {
    const c = client;
    client = null;
    // close() never calls back on a connection that was never established: do not wait for it longer than that.
    if (c) await Promise.race([new Promise<void>((resolve) => c.close(() => resolve())), new Promise<void>((resolve) => setTimeout(resolve, Math.min(timeoutMs, 1000)).unref())]);
  };

  const open = async (): Promise<ModbusRTU> => {
    if (client?.isOpen) return client;
    await drop();
    const c = new ModbusRTU();
    // The library emits 'error' for socket errors; unheard, an EventEmitter error would end the process.
    c.on('error', (e: unknown) => onError(e instanceof Error ? e : new Error(String(e))));
    client = c;
    await withTimeout(c.connectTCP(m.host, { port: m.port, timeout: timeoutMs }), timeoutMs, `connecting to ${where}`);
    c.setID(m.unitId);
    c.setTimeout(timeoutMs);
    return c;
  };

  const read = async (meterId: string, now: () => number): Promise<PollResult> => {
    const trace: RegisterTrace[] = [];
    const raw = () => ({ meterId, host: m.host, port: m.port, unitId: m.unitId, registerKind: m.registerKind, registers: trace });
    let c: ModbusRTU;
    try {
      c = await open();
    } catch (e) {
      await drop();
      return { kind: 'failed', problems: [{ ...classify(e, where), code: 'connection' }], raw: raw() };
    }
    const values: Partial<Record<Quantity, number>> = {};
    const problems: Problem[] = [];
    for (const r of m.registers) {
      const at = `${where} register ${r.address} (${r.quantity})`;
      try {
        const answer = m.registerKind === 'input' ? c.readInputRegisters(r.address, widthOf(r.type)) : c.readHoldingRegisters(r.address, widthOf(r.type));
        const { data } = await withTimeout(answer, timeoutMs + 500, `reading ${at}`);
        trace.push({ quantity: r.quantity, address: r.address, words: data });
        const decoded = decodeRegister(r, data);
        if ('problem' in decoded) problems.push({ code: 'invalid_value', message: `${where} register ${decoded.problem}` });
        else values[r.quantity] = decoded.value;
      } catch (e) {
        const p = classify(e, at);
        trace.push({ quantity: r.quantity, address: r.address, error: p.message });
        problems.push(p);
        // After a timeout or a broken connection the stream is out of step: start afresh next time.
        if (p.code !== 'modbus_exception') {
          await drop();
          break;
        }
      }
    }
    if (problems.length || values.importKw === undefined) return { kind: 'failed', problems, raw: raw() };
    return {
      kind: 'reading',
      candidate: { meterId, measuredAt: now(), importKw: values.importKw, l1A: values.l1A ?? null, l2A: values.l2A ?? null, l3A: values.l3A ?? null, voltageV: values.voltageV ?? null },
      raw: raw(),
    };
  };

  return { read, close: drop };
};
