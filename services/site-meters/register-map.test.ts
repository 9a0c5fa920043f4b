import { decodeRegister, rawValue, Register } from './register-map';

const words = (buf: Buffer) => [buf.readUInt16BE(0), buf.readUInt16BE(2)];
const float = (x: number) => {
  const b = Buffer.alloc(4);
  b.writeFloatBE(x, 0);
  return words(b);
};

describe('Modbus register decoding', () => {
  it('reads int16, uint16, int32, uint32 and float32 in both word orders', () => {
    expect(rawValue([0xfffe], 'int16', 'big')).toBe(-2);
    expect(rawValue([0xfffe], 'uint16', 'big')).toBe(65534);
    expect(rawValue([0x0001, 0x86a0], 'uint32', 'big')).toBe(100_000);
    expect(rawValue([0x86a0, 0x0001], 'uint32', 'little')).toBe(100_000);
    expect(rawValue([0xffff, 0xfffe], 'int32', 'big')).toBe(-2);
    expect(rawValue(float(231.5), 'float32', 'big')).toBe(231.5);
    expect(rawValue(float(231.5).reverse(), 'float32', 'little')).toBe(231.5);
  });

  it('scales to our unit and refuses a float that is not a number', () => {
    const watts: Register = { quantity: 'importKw', address: 0, type: 'int32', wordOrder: 'big', scale: 0.001 };
    expect(decodeRegister(watts, [0x0001, 0x86a0])).toEqual({ value: 100 });
    expect(decodeRegister({ ...watts, type: 'uint16', scale: 0.1 }, [2312])).toEqual({ value: 231.2 });
    expect(decodeRegister({ ...watts, type: 'uint16', scale: 2.5 }, [4])).toEqual({ value: 10 });
    const f: Register = { quantity: 'voltageV', address: 8, type: 'float32', wordOrder: 'big', scale: 1 };
    expect(decodeRegister(f, float(NaN))).toEqual({ problem: 'voltageV @8: float32 register holds NaN, not a number' });
    expect(decodeRegister(f, [1])).toEqual({ problem: 'voltageV @8: expected 2 registers, got 1' });
  });
});
