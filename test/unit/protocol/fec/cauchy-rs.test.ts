import { describe, expect, it } from 'vitest';
import { CauchyReedSolomon, cauchyCoefficient } from '../../../../protocol/fec/cauchy-rs.js';
import type { ErasureCoder } from '../../../../protocol/fec/erasure-coder.js';
import { gfDiv, gfInv, gfMul } from '../../../../protocol/fec/gf256.js';
import { mulberry32 } from '../../../support/prng.js';

function randomBytes(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

function randomInt(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

/** `count` distinct values from 0..n-1 in random order (partial Fisher-Yates). */
function sample(rand: () => number, n: number, count: number): number[] {
  const pool = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(rand() * (n - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count);
}

/** Index of the first block that differs, or -1 (toEqual on big typed arrays is slow). */
function firstDifference(a: readonly Uint8Array[], b: readonly Uint8Array[]): number {
  if (a.length !== b.length) return 0;
  for (let j = 0; j < a.length; j++) if (Buffer.compare(a[j]!, b[j]!) !== 0) return j;
  return -1;
}

function encode(coder: ErasureCoder, data: readonly Uint8Array[], parityIndex: number): Uint8Array {
  const out = new Uint8Array(data[0]!.length);
  coder.encodeParity(data, parityIndex, out);
  return out;
}

/**
 * Loses `missing` from `data`, decodes them from the parity symbols `parityIndices`, and returns
 * the rebuilt block set. Lost blocks are replaced by garbage-filled buffers to prove they are
 * overwritten.
 */
function loseAndDecode(coder: ErasureCoder, data: readonly Uint8Array[], missing: readonly number[], parityIndices: readonly number[]): Uint8Array[] {
  const parity = parityIndices.map((index) => ({ index, bytes: encode(coder, data, index) }));
  const received = data.map((d, j) => (missing.includes(j) ? new Uint8Array(d.length).fill(0xa5) : Uint8Array.from(d)));
  coder.decode(received, missing, parity);
  return received;
}

describe('CauchyReedSolomon', () => {
  it('has the documented name and parity range', () => {
    const rs = new CauchyReedSolomon();
    expect(rs.name).toBe('ts-cauchy');
    expect(rs.maxParity(1)).toBe(255);
    expect(rs.maxParity(128)).toBe(128);
    expect(rs.maxParity(255)).toBe(1);
  });

  it("encodes parity as sum_j c'(i, j) * d_j with c'(i, j) = gfInv((k + i) XOR j) / gfInv(k XOR j)", () => {
    const rand = mulberry32(0xc0ef);
    const rs = new CauchyReedSolomon();
    const k = 9;
    const data = Array.from({ length: k }, () => randomBytes(rand, 33));
    for (const i of [0, 1, 100, 246]) {
      const expected = new Uint8Array(33);
      for (let j = 0; j < k; j++) {
        const c = gfDiv(gfInv((k + i) ^ j), gfInv(k ^ j));
        expect(cauchyCoefficient(k, i, j)).toBe(c);
        for (let b = 0; b < 33; b++) expected[b]! ^= gfMul(c, data[j]![b]!);
      }
      expect(encode(rs, data, i)).toEqual(expected);
    }
    // Independently computed (see the golden test): c'(100, 0..8) for k = 9.
    expect(Array.from({ length: k }, (_, j) => cauchyCoefficient(k, 100, j))).toEqual([223, 29, 219, 59, 159, 255, 207, 115, 196]);
  });

  it('has parity 0 equal to the XOR of the data blocks, and only parity 0 with all coefficients 1', () => {
    const rand = mulberry32(0x0c0);
    const rs = new CauchyReedSolomon();
    for (const k of [1, 2, 7, 32, 128, 255]) {
      const blockBytes = 1 + (k % 37);
      const data = Array.from({ length: k }, () => randomBytes(rand, blockBytes));
      const xor = new Uint8Array(blockBytes);
      for (const d of data) for (let b = 0; b < blockBytes; b++) xor[b]! ^= d[b]!;
      expect(encode(rs, data, 0)).toEqual(xor);
      for (let j = 0; j < k; j++) expect(cauchyCoefficient(k, 0, j)).toBe(1);
      for (let i = 1; i < 256 - k; i++) expect(cauchyCoefficient(k, i, 0)).not.toBe(1);
    }
  });

  it('golden bytes: k=3 blocks [1,2], [3,4], [5,6]', () => {
    // Pinned so a native coder or a refactor cannot drift from the wire format unnoticed.
    // 0700b3df was computed independently with a shift-and-add GF(2^8) script (Python):
    //   def mul(a, b): r = 0; while b: (r ^= a if b & 1), a <<= 1, (a ^= 0x11D if a & 0x100), b >>= 1
    //   inv(a) = the x in 1..255 with mul(a, x) == 1;  c'(i, j) = mul(inv((k + i) ^ j), k ^ j)
    //   p_i[b] = XOR_j mul(c'(i, j), data[j][b])  ->  p0 = 07 00, p1 = b3 df
    const rs = new CauchyReedSolomon();
    const data = [Uint8Array.of(1, 2), Uint8Array.of(3, 4), Uint8Array.of(5, 6)];
    const p0 = encode(rs, data, 0);
    const p1 = encode(rs, data, 1);
    const manual = (i: number): number[] => [0, 1].map((b) => data.reduce((acc, d, j) => acc ^ gfMul(gfDiv(gfInv((3 + i) ^ j), gfInv(3 ^ j)), d[b]!), 0));
    expect(Array.from(p0)).toEqual([1 ^ 3 ^ 5, 2 ^ 4 ^ 6]);
    expect(Array.from(p0)).toEqual(manual(0));
    expect(Array.from(p1)).toEqual(manual(1));
    expect(Buffer.from(p0).toString('hex') + Buffer.from(p1).toString('hex')).toBe('0700b3df');
  });

  it('encodeParities writes the same bytes as one encodeParity per index', () => {
    const rand = mulberry32(0xba7c4);
    const rs = new CauchyReedSolomon();
    const data = Array.from({ length: 12 }, () => randomBytes(rand, 101));
    const indices = [0, 7, 3, 243];
    const outs = indices.map(() => new Uint8Array(101));
    rs.encodeParities(data, indices, outs);
    indices.forEach((index, t) => {
      expect(outs[t]).toEqual(encode(rs, data, index));
    });
    expect(() => rs.encodeParities(data, [0, 1], [new Uint8Array(101)])).toThrow(RangeError);
  });

  it('rebuilds lost blocks for 300 seeded (k, m, blockBytes, loss) cases', () => {
    const rs = new CauchyReedSolomon();
    for (let n = 0; n < 300; n++) {
      const seed = 0x7e57_0000 + n;
      const rand = mulberry32(seed);
      const k = randomInt(rand, 1, 200);
      const m = randomInt(rand, 1, Math.min(40, 256 - k));
      const blockBytes = randomInt(rand, 1, 300);
      const lost = randomInt(rand, 0, Math.min(m, k));
      const data = Array.from({ length: k }, () => randomBytes(rand, blockBytes));
      const missing = sample(rand, k, lost);
      const parityIndices = sample(rand, m, lost);
      const bad = firstDifference(loseAndDecode(rs, data, missing, parityIndices), data);
      if (bad !== -1) {
        expect.fail(`seed ${seed}: k=${k} m=${m} blockBytes=${blockBytes} missing=[${missing}] parity=[${parityIndices}]: block ${bad} differs`);
      }
    }
  });

  it('is MDS: every loss pattern and every parity choice decodes (k=5, m=4)', () => {
    const rs = new CauchyReedSolomon();
    const rand = mulberry32(0x3d5);
    const k = 5;
    const m = 4;
    const data = Array.from({ length: k }, () => randomBytes(rand, 17));
    const subsets = (n: number): number[][] =>
      Array.from({ length: 1 << n }, (_, mask) => Array.from({ length: n }, (_, i) => i).filter((i) => mask & (1 << i)));
    let cases = 0;
    for (const missing of subsets(k)) {
      if (missing.length > m) continue;
      for (const parityIndices of subsets(m)) {
        if (parityIndices.length !== missing.length) continue;
        expect(firstDifference(loseAndDecode(rs, data, missing, parityIndices), data), `missing [${missing}] parity [${parityIndices}]`).toBe(-1);
        cases++;
      }
    }
    // sum over L of C(5, L) * C(4, L) = 1 + 20 + 60 + 40 + 5
    expect(cases).toBe(126);
  });

  it('decodes from fresh parity indices that are not the first ones', () => {
    const rs = new CauchyReedSolomon();
    const rand = mulberry32(0xf7e54);
    const data = Array.from({ length: 32 }, () => randomBytes(rand, 1448));
    expect(firstDifference(loseAndDecode(rs, data, [3, 30], [5, 17]), data)).toBe(-1);
    expect(firstDifference(loseAndDecode(rs, data, [30, 3], [17, 5]), data)).toBe(-1);
    expect(firstDifference(loseAndDecode(rs, data, [0, 1, 31], [223, 0, 100]), data)).toBe(-1);
  });

  it('handles k=1 with any parity index', () => {
    const rs = new CauchyReedSolomon();
    const data = [Uint8Array.of(0, 1, 2, 0xfe, 0xff)];
    for (const index of [0, 1, 128, 254]) expect(firstDifference(loseAndDecode(rs, data, [0], [index]), data)).toBe(-1);
  });

  it('handles k=255 with its single parity', () => {
    const rs = new CauchyReedSolomon();
    const rand = mulberry32(255);
    const data = Array.from({ length: 255 }, () => randomBytes(rand, 64));
    for (const lostBlock of [0, 128, 254]) expect(firstDifference(loseAndDecode(rs, data, [lostBlock], [0]), data)).toBe(-1);
  });

  it('leaves present blocks and parity untouched, and accepts zero losses', () => {
    const rs = new CauchyReedSolomon();
    const rand = mulberry32(99);
    const data = Array.from({ length: 6 }, () => randomBytes(rand, 40));
    const received = data.map((d) => Uint8Array.from(d));
    const parity = [{ index: 2, bytes: encode(rs, data, 2) }];
    const parityCopy = Uint8Array.from(parity[0]!.bytes);
    received[4]!.fill(0);
    rs.decode(received, [4], parity);
    expect(received).toEqual(data);
    expect(parity[0]!.bytes).toEqual(parityCopy);
    rs.decode(received, [], []);
    expect(received).toEqual(data);
  });

  it('throws RangeError on caller misuse', () => {
    const rs = new CauchyReedSolomon();
    const block = (n = 4): Uint8Array => new Uint8Array(n);
    const data = [block(), block(), block()];
    const p = (index: number, n = 4): { index: number; bytes: Uint8Array } => ({ index, bytes: block(n) });

    expect(() => rs.maxParity(0)).toThrow(RangeError);
    expect(() => rs.maxParity(256)).toThrow(RangeError);
    expect(() => rs.maxParity(2.5)).toThrow(RangeError);

    expect(() => rs.encodeParity([], 0, block())).toThrow(RangeError);
    expect(() =>
      rs.encodeParity(
        Array.from({ length: 256 }, () => block()),
        0,
        block(),
      ),
    ).toThrow(RangeError);
    expect(() => rs.encodeParity(data, -1, block())).toThrow(RangeError);
    expect(() => rs.encodeParity(data, 253, block())).toThrow(RangeError);
    expect(() => rs.encodeParity(data, 1.5, block())).toThrow(RangeError);
    expect(() => rs.encodeParity(data, 0, block(5))).toThrow(RangeError);
    expect(() => rs.encodeParity([block(), block(3)], 0, block())).toThrow(RangeError);
    expect(() => rs.encodeParity(data, 252, block())).not.toThrow();

    expect(() => rs.decode([], [], [])).toThrow(RangeError);
    expect(() => rs.decode(data, [0], [])).toThrow(RangeError);
    expect(() => rs.decode(data, [0], [p(0), p(1)])).toThrow(RangeError);
    expect(() => rs.decode(data, [3], [p(0)])).toThrow(RangeError);
    expect(() => rs.decode(data, [-1], [p(0)])).toThrow(RangeError);
    expect(() => rs.decode(data, [0, 0], [p(0), p(1)])).toThrow(RangeError);
    expect(() => rs.decode(data, [0, 1], [p(2), p(2)])).toThrow(RangeError);
    expect(() => rs.decode(data, [0], [p(253)])).toThrow(RangeError);
    expect(() => rs.decode(data, [0], [p(0, 5)])).toThrow(RangeError);
    expect(() => rs.decode([block(), block(5), block()], [0], [p(0)])).toThrow(RangeError);
    expect(() => rs.decode(data, [0], [p(252)])).not.toThrow();

    expect(() => new CauchyReedSolomon({ inverseCacheEntries: -1 })).toThrow(RangeError);
    expect(() => new CauchyReedSolomon({ inverseCacheEntries: 1.5 })).toThrow(RangeError);
  });

  it('keeps the decode-matrix cache bounded and still decodes after evictions', () => {
    const rs = new CauchyReedSolomon();
    const small = new CauchyReedSolomon({ inverseCacheEntries: 3 });
    const none = new CauchyReedSolomon({ inverseCacheEntries: 0 });
    const rand = mulberry32(0xcace);
    const k = 20;
    const data = Array.from({ length: k }, () => randomBytes(rand, 50));
    // 200 distinct (missing, parity) patterns, then the first ones again after eviction.
    const patterns = Array.from({ length: 200 }, (_, n) => ({ missing: [n % k, (n + 1 + Math.floor(n / k)) % k], parity: [0, 1] })).filter(
      (pt) => pt.missing[0] !== pt.missing[1],
    );
    for (const round of [0, 1]) {
      for (const { missing, parity } of patterns) {
        for (const coder of [rs, small, none]) {
          expect(firstDifference(loseAndDecode(coder, data, missing, parity), data), `round ${round} missing [${missing}]`).toBe(-1);
        }
        expect(rs.inverseCacheSize).toBeLessThanOrEqual(64);
        expect(small.inverseCacheSize).toBeLessThanOrEqual(3);
        expect(none.inverseCacheSize).toBe(0);
      }
    }
    expect(rs.inverseCacheSize).toBe(64);
    expect(small.inverseCacheSize).toBe(3);
  });
});
