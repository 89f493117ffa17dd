import { describe, expect, it } from 'vitest';
import { GF_POLYNOMIAL, gfDiv, gfExp, gfInv, gfLog, gfMul, mulAddRow } from '../../../../protocol/fec/gf256.js';
import { mulberry32 } from '../../../support/prng.js';

/** Shift-and-add multiply with reduction by 0x11D: independent of the tables under test. */
function slowMul(a: number, b: number): number {
  let product = 0;
  while (b !== 0) {
    if (b & 1) product ^= a;
    b >>= 1;
    a <<= 1;
    if (a & 0x100) a ^= GF_POLYNOMIAL;
  }
  return product;
}

function randomBytes(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

describe('gf256 field', () => {
  it('gfMul matches shift-and-add multiplication on all pairs', () => {
    let mismatches = 0;
    for (let a = 0; a < 256; a++) {
      for (let b = 0; b < 256; b++) if (gfMul(a, b) !== slowMul(a, b)) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('is commutative, with 0 absorbing and 1 neutral, on all pairs', () => {
    let bad = 0;
    for (let a = 0; a < 256; a++) {
      if (gfMul(a, 0) !== 0 || gfMul(0, a) !== 0 || gfMul(a, 1) !== a) bad++;
      for (let b = 0; b < 256; b++) if (gfMul(a, b) !== gfMul(b, a)) bad++;
    }
    expect(bad).toBe(0);
  });

  it('has a * inv(a) = 1 and (a / b) * b = a for all non-zero b', () => {
    let bad = 0;
    for (let a = 1; a < 256; a++) if (gfMul(a, gfInv(a)) !== 1) bad++;
    for (let a = 0; a < 256; a++) {
      for (let b = 1; b < 256; b++) if (gfMul(gfDiv(a, b), b) !== a) bad++;
    }
    expect(bad).toBe(0);
  });

  it('generator 2 has order 255 and log inverts exp', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 255; i++) seen.add(gfExp(i));
    expect(seen.size).toBe(255);
    expect(seen.has(0)).toBe(false);
    expect(gfExp(255)).toBe(1);
    for (let a = 1; a < 256; a++) expect(gfExp(gfLog(a))).toBe(a);
  });

  it('is associative and distributive on a seeded sample', () => {
    const seed = 0x5eed0256;
    const rand = mulberry32(seed);
    let bad = 0;
    for (let n = 0; n < 200_000; n++) {
      const a = Math.floor(rand() * 256);
      const b = Math.floor(rand() * 256);
      const c = Math.floor(rand() * 256);
      if (gfMul(a, b ^ c) !== (gfMul(a, b) ^ gfMul(a, c))) bad++;
      if (gfMul(gfMul(a, b), c) !== gfMul(a, gfMul(b, c))) bad++;
    }
    expect(bad, `seed ${seed}`).toBe(0);
  });

  it('throws RangeError on division by zero, inverse and log of zero', () => {
    expect(() => gfDiv(7, 0)).toThrow(RangeError);
    expect(() => gfDiv(0, 0)).toThrow(RangeError);
    expect(() => gfInv(0)).toThrow(RangeError);
    expect(() => gfLog(0)).toThrow(RangeError);
    expect(gfDiv(0, 9)).toBe(0);
  });
});

describe('mulAddRow', () => {
  it('matches gfMul elementwise for every coefficient, on word and byte paths', () => {
    const seed = 0xadd20;
    const rand = mulberry32(seed);
    // 1448 takes the word loop, 37 the byte loop; offset 1 vs 2 forces the byte loop on a long row.
    for (const { len, dstOff, srcOff } of [
      { len: 1448, dstOff: 0, srcOff: 0 },
      { len: 1001, dstOff: 3, srcOff: 7 },
      { len: 600, dstOff: 1, srcOff: 2 },
      { len: 37, dstOff: 0, srcOff: 0 },
    ]) {
      for (let coef = 0; coef < 256; coef++) {
        const src = randomBytes(rand, srcOff + len).subarray(srcOff);
        const dstBacking = randomBytes(rand, dstOff + len + 8);
        const dst = dstBacking.subarray(dstOff, dstOff + len);
        const before = Uint8Array.from(dstBacking);
        mulAddRow(dst, src, coef, len);
        for (let i = 0; i < len; i++) {
          if (dst[i] !== (before[dstOff + i]! ^ gfMul(coef, src[i]!))) {
            expect.fail(`seed ${seed} len ${len} coef ${coef} byte ${i}: got ${dst[i]}`);
          }
        }
        // Bytes outside the row are untouched.
        expect(dstBacking.subarray(0, dstOff)).toEqual(before.subarray(0, dstOff));
        expect(dstBacking.subarray(dstOff + len)).toEqual(before.subarray(dstOff + len));
      }
    }
  });

  it('is a no-op for coef 0 and a plain XOR for coef 1', () => {
    const rand = mulberry32(12345);
    for (const len of [5, 300]) {
      const src = randomBytes(rand, len);
      const dst = randomBytes(rand, len);
      const before = Uint8Array.from(dst);
      mulAddRow(dst, src, 0, len);
      expect(dst).toEqual(before);
      mulAddRow(dst, src, 1, len);
      expect(dst).toEqual(before.map((b, i) => b ^ src[i]!));
    }
  });

  it('touches only the first len bytes', () => {
    const dst = new Uint8Array(400);
    const src = new Uint8Array(400).fill(0xff);
    mulAddRow(dst, src, 3, 299);
    expect(dst.subarray(0, 299).every((b) => b === gfMul(3, 0xff))).toBe(true);
    expect(dst.subarray(299).every((b) => b === 0)).toBe(true);
  });

  it('throws RangeError on bad len or coefficient', () => {
    const a = new Uint8Array(8);
    const b = new Uint8Array(4);
    expect(() => mulAddRow(a, b, 2, 5)).toThrow(RangeError);
    expect(() => mulAddRow(b, a, 2, 5)).toThrow(RangeError);
    expect(() => mulAddRow(a, a, 2, -1)).toThrow(RangeError);
    expect(() => mulAddRow(a, a, 2, 1.5)).toThrow(RangeError);
    expect(() => mulAddRow(a, a, 256, 4)).toThrow(RangeError);
    expect(() => mulAddRow(a, a, -1, 4)).toThrow(RangeError);
    expect(() => mulAddRow(a, a, 2.5, 4)).toThrow(RangeError);
  });
});
