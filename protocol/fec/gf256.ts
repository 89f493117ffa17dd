// GF(2^8) arithmetic for the erasure coders.
//
// Field: GF(2)[x] / (x^8 + x^4 + x^3 + x^2 + 1), i.e. the polynomial 0x11D, with generator
// alpha = 2 (primitive for 0x11D, so alpha^0..alpha^254 are the 255 non-zero elements). This is
// the field used by Rizzo's `fec.c` (the code udpcast ships) and by most RS implementations.
//
// Addition is XOR. Multiplication uses log/exp tables; the exp table is doubled to 512 entries
// so that exp[log a + log b] never needs a `% 255`. The row kernel `mulAddRow` uses a full
// 256x256 product table instead, so the inner loop is one table load and one XOR per byte.
//
// Elements are plain numbers in 0..255; the scalar functions do not re-check that range (they
// sit on paths the coders have already validated).

/** The reduction polynomial x^8 + x^4 + x^3 + x^2 + 1. */
export const GF_POLYNOMIAL = 0x11d;

/** Number of field elements. */
export const GF_SIZE = 256;

/** exp[i] = alpha^i for i in 0..509; entries 255..509 repeat 0..254 so log sums need no mod. */
const EXP = new Uint8Array(2 * GF_SIZE);

/** log[a] = i with alpha^i = a, for a in 1..255. log[0] is unused (0 has no logarithm). */
const LOG = new Uint8Array(GF_SIZE);

/** MUL[(a << 8) | b] = a * b. 64 KiB, built once at module load. */
const MUL = new Uint8Array(GF_SIZE * GF_SIZE);

{
  let x = 1;
  for (let i = 0; i < GF_SIZE - 1; i++) {
    EXP[i] = x;
    EXP[i + GF_SIZE - 1] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= GF_POLYNOMIAL;
  }
  // Entries 510 and 511 are never reached (max log sum is 254 + 254 = 508); fill them anyway
  // so the table is a clean periodic sequence.
  EXP[2 * GF_SIZE - 2] = EXP[0]!;
  EXP[2 * GF_SIZE - 1] = EXP[1]!;

  for (let a = 1; a < GF_SIZE; a++) {
    const logA = LOG[a]!;
    const row = a << 8;
    for (let b = 1; b < GF_SIZE; b++) MUL[row | b] = EXP[logA + LOG[b]!]!;
  }
  // Row 0 and column 0 stay 0 from the zero-initialised allocation.
}

/** a * b in GF(256). */
export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return EXP[LOG[a]! + LOG[b]!]!;
}

/** a / b in GF(256). Throws RangeError when b is 0. */
export function gfDiv(a: number, b: number): number {
  if (b === 0) throw new RangeError('gfDiv: division by zero in GF(256)');
  if (a === 0) return 0;
  return EXP[LOG[a]! + (GF_SIZE - 1) - LOG[b]!]!;
}

/** The multiplicative inverse of a in GF(256). Throws RangeError when a is 0. */
export function gfInv(a: number): number {
  if (a === 0) throw new RangeError('gfInv: 0 has no inverse in GF(256)');
  return EXP[GF_SIZE - 1 - LOG[a]!]!;
}

/** alpha^i for any integer i >= 0 (alpha = 2). */
export function gfExp(i: number): number {
  return EXP[i % (GF_SIZE - 1)]!;
}

/** log_alpha(a) for a in 1..255. Throws RangeError when a is 0. */
export function gfLog(a: number): number {
  if (a === 0) throw new RangeError('gfLog: 0 has no logarithm in GF(256)');
  return LOG[a]!;
}

/**
 * Rows shorter than this take the byte loop: below it, allocating the two Int32Array views costs
 * more than the word loop saves (measured on Node 20: at 64 bytes the byte loop is ~1.6x faster,
 * at 1448 bytes the word loop is ~1.4x faster).
 */
const WORD_LOOP_MIN_BYTES = 256;

/**
 * dst[i] ^= coef * src[i] for i in 0..len-1.
 *
 * The hot loop of every encode and decode. coef 0 is a no-op and coef 1 is a plain XOR; any
 * other coefficient reads its 256-entry row of the product table. V8 does not vectorise table
 * lookups, so the speed comes from doing fewer, wider memory operations: when dst and src share
 * the same alignment mod 4, the body is read and written as 32-bit words and each word's four
 * bytes are looked up separately. Each byte lane maps back to the same lane, so the result does
 * not depend on host endianness. Otherwise a byte loop unrolled by four is used.
 */
export function mulAddRow(dst: Uint8Array, src: Uint8Array, coef: number, len: number): void {
  if (!(len >= 0 && len <= dst.length && len <= src.length) || !Number.isInteger(len)) {
    throw new RangeError(`mulAddRow: len ${len} outside 0..min(${dst.length}, ${src.length})`);
  }
  if ((coef & 0xff) !== coef) {
    throw new RangeError(`mulAddRow: coef ${coef} is not a GF(256) element`);
  }
  if (coef === 0) return;

  let i = 0;
  const dOff = dst.byteOffset;
  if (len >= WORD_LOOP_MIN_BYTES && ((dOff ^ src.byteOffset) & 3) === 0) {
    const head = (4 - (dOff & 3)) & 3;
    const words = (len - head) >> 2;
    if (coef === 1) {
      for (; i < head; i++) dst[i]! ^= src[i]!;
      const d32 = new Int32Array(dst.buffer, dOff + head, words);
      const s32 = new Int32Array(src.buffer, src.byteOffset + head, words);
      for (let w = 0; w < words; w++) d32[w]! ^= s32[w]!;
      for (i = head + (words << 2); i < len; i++) dst[i]! ^= src[i]!;
      return;
    }
    const row = MUL.subarray(coef << 8, (coef << 8) + GF_SIZE);
    for (; i < head; i++) dst[i]! ^= row[src[i]!]!;
    const d32 = new Int32Array(dst.buffer, dOff + head, words);
    const s32 = new Int32Array(src.buffer, src.byteOffset + head, words);
    for (let w = 0; w < words; w++) {
      const v = s32[w]!;
      d32[w]! ^= row[v & 0xff]! | (row[(v >>> 8) & 0xff]! << 8) | (row[(v >>> 16) & 0xff]! << 16) | (row[v >>> 24]! << 24);
    }
    for (i = head + (words << 2); i < len; i++) dst[i]! ^= row[src[i]!]!;
    return;
  }

  const end4 = len & ~3;
  if (coef === 1) {
    for (; i < end4; i += 4) {
      dst[i]! ^= src[i]!;
      dst[i + 1]! ^= src[i + 1]!;
      dst[i + 2]! ^= src[i + 2]!;
      dst[i + 3]! ^= src[i + 3]!;
    }
    for (; i < len; i++) dst[i]! ^= src[i]!;
    return;
  }
  const row = MUL.subarray(coef << 8, (coef << 8) + GF_SIZE);
  for (; i < end4; i += 4) {
    dst[i]! ^= row[src[i]!]!;
    dst[i + 1]! ^= row[src[i + 1]!]!;
    dst[i + 2]! ^= row[src[i + 2]!]!;
    dst[i + 3]! ^= row[src[i + 3]!]!;
  }
  for (; i < len; i++) dst[i]! ^= row[src[i]!]!;
}
