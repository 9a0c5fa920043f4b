import * as t from 'io-ts';

/** A Modbus meter's register map: where each quantity sits and how to read it. Pure decoding, no I/O.
 *
 *  Per quantity: `address` (0-based register address as sent on the wire; a data sheet's "40001" is address 0 of the
 *  holding registers), `type` int16 | uint16 (one register) or int32 | uint32 | float32 (two registers), `wordOrder`
 *  'big' (high word first, the Modbus convention; default) or 'little' (low word first, e.g. some Eastron/ABB maps),
 *  and `scale`: the value in our unit = raw × scale (e.g. a meter giving W as int32: scale 0.001 for kW). */
export const quantities = ['importKw', 'l1A', 'l2A', 'l3A', 'voltageV'] as const;
export type Quantity = (typeof quantities)[number];

export const RegisterTypeCodec = t.keyof({ int16: null, uint16: null, int32: null, uint32: null, float32: null });
export type RegisterType = t.TypeOf<typeof RegisterTypeCodec>;
export const WordOrderCodec = t.keyof({ big: null, little: null });
export type WordOrder = t.TypeOf<typeof WordOrderCodec>;

const Address = t.refinement(t.number, (n) => Number.isInteger(n) && n >= 0 && n <= 65535, 'register address 0–65535');
const FiniteNonZero = t.refinement(t.number, (n) => Number.isFinite(n) && n !== 0, 'finite, non-zero scale');

export const RegisterCodec = t.intersection([
  t.type({ quantity: t.keyof(Object.fromEntries(quantities.map((q) => [q, null])) as Record<Quantity, null>), address: Address, type: RegisterTypeCodec }),
  t.partial({ wordOrder: WordOrderCodec, scale: FiniteNonZero }),
]);

export interface Register {
  readonly quantity: Quantity;
  readonly address: number;
  readonly type: RegisterType;
  readonly wordOrder: WordOrder;
  readonly scale: number;
}

export const registerWithDefaults = (r: t.TypeOf<typeof RegisterCodec>): Register => ({ quantity: r.quantity, address: r.address, type: r.type, wordOrder: r.wordOrder ?? 'big', scale: r.scale ?? 1 });

/** How many 16-bit registers a value of this type takes. */
export const widthOf = (type: RegisterType): 1 | 2 => (type === 'int16' || type === 'uint16' ? 1 : 2);

/** The registers as read (16-bit words, in address order) → the raw value, before scaling. */
export const rawValue = (words: readonly number[], type: RegisterType, wordOrder: WordOrder): number => {
  const [first = 0, second = 0] = words;
  const buf = Buffer.alloc(4);
  if (widthOf(type) === 1) {
    buf.writeUInt16BE(first & 0xffff, 0);
    return type === 'int16' ? buf.readInt16BE(0) : buf.readUInt16BE(0);
  }
  const [hi, lo] = wordOrder === 'big' ? [first, second] : [second, first];
  buf.writeUInt16BE(hi & 0xffff, 0);
  buf.writeUInt16BE(lo & 0xffff, 2);
  return type === 'int32' ? buf.readInt32BE(0) : type === 'uint32' ? buf.readUInt32BE(0) : buf.readFloatBE(0);
};

/** The value in our unit, or why the registers hold none (a float NaN or infinity: a meter's "no value"). */
export const decodeRegister = (r: Register, words: readonly number[]): { value: number } | { problem: string } => {
  if (words.length < widthOf(r.type)) return { problem: `${r.quantity} @${r.address}: expected ${widthOf(r.type)} registers, got ${words.length}` };
  const raw = rawValue(words, r.type, r.wordOrder);
  if (!Number.isFinite(raw)) return { problem: `${r.quantity} @${r.address}: ${r.type} register holds ${raw}, not a number` };
  return { value: scaled(raw, r.scale) };
};

/** raw × scale; a scale of 1/n divides by n instead, so 2312 × 0.1 reads 231.2 and not 231.20000000000002. */
export const scaled = (raw: number, scale: number): number => {
  const n = Math.round(1 / scale);
  return Math.abs(1 / scale - n) < 1e-9 && n !== 0 ? raw / n : raw * scale;
};
