// Systematic Cauchy Reed-Solomon erasure code over GF(256): the pure-TS reference ErasureCoder.
//
// Construction (Blömer, Kalfane, Karp, Karpinski, Luby, Zuckerman, "An XOR-Based
// Erasure-Resilient Coding Scheme", ICSI TR-95-048, 1995; see also Plank & Xu, "Optimizing
// Cauchy Reed-Solomon Codes for Fault-Tolerant Network Storage Applications", IEEE NCA 2006):
//
//   data block j   <-> field element y_j = j          (j in 0..k-1)
//   parity i       <-> field element x_i = k + i      (i in 0..255-k)
//   parity_i       =   sum_j c(i, j) * d_j,   c(i, j) = 1 / (x_i + y_j) = gfInv(x_i XOR y_j)
//
// The x's and y's are 256 distinct field elements, so x_i + y_j is never 0, and C is a Cauchy
// matrix. Why Cauchy: every square submatrix of a Cauchy matrix is itself a Cauchy matrix, and a
// Cauchy matrix is nonsingular (det = prod_{a<b} (x_a - x_b)(y_b - y_a) / prod_{a,b} (x_a + y_b)).
// With generator [I; C], losing L data blocks and holding any L parity symbols leaves exactly
// the L x L submatrix C[parity rows, missing columns] to invert, which is always possible: any k
// of the k + m symbols rebuild the data (the code is MDS). The parity rows are independent of
// each other and of m, so a sender can emit "fresh" parity (index 5, 17, ...) in a later round
// and the receiver can combine it with whatever it already holds.
//
// This is not udpcast's `fec.c` (Rizzo's Vandermonde code); the two do not interoperate.

import type { ErasureCoder } from './erasure-coder.js';
import { GF_SIZE, gfInv, gfMul, mulAddRow } from './gf256.js';

/** Largest k: at least one parity element must remain among the 256 field elements. */
export const CAUCHY_MAX_DATA_BLOCKS = GF_SIZE - 1;

/** Default bound on cached decode matrices. */
export const CAUCHY_DEFAULT_INVERSE_CACHE_ENTRIES = 64;

export interface CauchyReedSolomonOptions {
  /** Decode matrices kept for reuse (least recently used evicted first); 0 disables the cache. */
  readonly inverseCacheEntries?: number;
}

function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 1 || k > CAUCHY_MAX_DATA_BLOCKS) {
    throw new RangeError(`k must be an integer in 1..${CAUCHY_MAX_DATA_BLOCKS}, got ${k}`);
  }
}

function checkParityIndex(k: number, parityIndex: number): void {
  const maxParity = GF_SIZE - k;
  if (!Number.isInteger(parityIndex) || parityIndex < 0 || parityIndex >= maxParity) {
    throw new RangeError(`parity index must be an integer in 0..${maxParity - 1} for k=${k}, got ${parityIndex}`);
  }
}

/** c(i, j): the coefficient of data block j in parity symbol i, for k data blocks. */
export function cauchyCoefficient(k: number, parityIndex: number, dataIndex: number): number {
  checkK(k);
  checkParityIndex(k, parityIndex);
  if (!Number.isInteger(dataIndex) || dataIndex < 0 || dataIndex >= k) {
    throw new RangeError(`data index must be an integer in 0..${k - 1}, got ${dataIndex}`);
  }
  return gfInv((k + parityIndex) ^ dataIndex);
}

/**
 * Inverts the L x L matrix C[t][u] = 1 / ((k + parityIdx[t]) XOR missing[u]) by Gauss-Jordan
 * elimination. Returns the inverse row-major: d_missing[u] = sum_t inv[u*L + t] * syndrome_t.
 */
function invertCauchySubmatrix(k: number, missing: readonly number[], parityIdx: readonly number[]): Uint8Array {
  const l = missing.length;
  const a = new Uint8Array(l * l);
  const inv = new Uint8Array(l * l);
  for (let t = 0; t < l; t++) {
    const x = k + parityIdx[t];
    for (let u = 0; u < l; u++) a[t * l + u] = gfInv(x ^ missing[u]);
    inv[t * l + t] = 1;
  }
  for (let col = 0; col < l; col++) {
    let pivot = col;
    while (pivot < l && a[pivot * l + col] === 0) pivot++;
    if (pivot === l) {
      // Unreachable for a Cauchy matrix; reaching it means the tables or indices are wrong.
      throw new Error(`internal: singular Cauchy submatrix (k=${k}, missing=${missing}, parity=${parityIdx})`);
    }
    if (pivot !== col) {
      for (let c = 0; c < l; c++) {
        const p = pivot * l + c;
        const q = col * l + c;
        let tmp = a[p];
        a[p] = a[q];
        a[q] = tmp;
        tmp = inv[p];
        inv[p] = inv[q];
        inv[q] = tmp;
      }
    }
    const colRow = col * l;
    const scale = gfInv(a[colRow + col]);
    if (scale !== 1) {
      for (let c = 0; c < l; c++) {
        a[colRow + c] = gfMul(a[colRow + c], scale);
        inv[colRow + c] = gfMul(inv[colRow + c], scale);
      }
    }
    const pivotA = a.subarray(colRow, colRow + l);
    const pivotInv = inv.subarray(colRow, colRow + l);
    for (let r = 0; r < l; r++) {
      if (r === col) continue;
      const factor = a[r * l + col];
      if (factor === 0) continue;
      mulAddRow(a.subarray(r * l, r * l + l), pivotA, factor, l);
      mulAddRow(inv.subarray(r * l, r * l + l), pivotInv, factor, l);
    }
  }
  return inv;
}

export class CauchyReedSolomon implements ErasureCoder {
  readonly name = 'ts-cauchy';

  readonly #maxInverseCacheEntries: number;

  /**
   * Decode matrices keyed by (k, missing, parity indices), in least-recently-used order.
   * Bounded: at most #maxInverseCacheEntries entries, each at most 255 x 255 bytes.
   */
  readonly #inverses = new Map<string, Uint8Array>();

  /**
   * Syndrome rows reused across decodes. Bounded: grows to the largest
   * missing.length * blockBytes decoded so far (at most 255 rows of one block).
   */
  #scratch = new Uint8Array(0);

  constructor(options: CauchyReedSolomonOptions = {}) {
    const entries = options.inverseCacheEntries ?? CAUCHY_DEFAULT_INVERSE_CACHE_ENTRIES;
    if (!Number.isInteger(entries) || entries < 0) {
      throw new RangeError(`inverseCacheEntries must be a non-negative integer, got ${entries}`);
    }
    this.#maxInverseCacheEntries = entries;
  }

  /** Number of decode matrices currently cached (never above the configured bound). */
  get inverseCacheSize(): number {
    return this.#inverses.size;
  }

  maxParity(k: number): number {
    checkK(k);
    return GF_SIZE - k;
  }

  encodeParity(data: readonly Uint8Array[], parityIndex: number, out: Uint8Array): void {
    const k = data.length;
    checkK(k);
    checkParityIndex(k, parityIndex);
    const blockBytes = out.length;
    for (let j = 0; j < k; j++) {
      if (data[j].length !== blockBytes) {
        throw new RangeError(`data block ${j} has ${data[j].length} bytes, parity output has ${blockBytes}`);
      }
    }
    out.fill(0);
    const x = k + parityIndex;
    for (let j = 0; j < k; j++) mulAddRow(out, data[j], gfInv(x ^ j), blockBytes);
  }

  decode(data: Uint8Array[], missing: readonly number[], parity: readonly { index: number; bytes: Uint8Array }[]): void {
    const k = data.length;
    checkK(k);
    const l = missing.length;
    if (parity.length !== l) {
      throw new RangeError(`decode needs exactly one parity symbol per missing block: ${l} missing, ${parity.length} parity`);
    }
    const blockBytes = data[0].length;
    for (let j = 1; j < k; j++) {
      if (data[j].length !== blockBytes) {
        throw new RangeError(`data block ${j} has ${data[j].length} bytes, block 0 has ${blockBytes}`);
      }
    }
    const isMissing = new Uint8Array(k);
    for (const j of missing) {
      if (!Number.isInteger(j) || j < 0 || j >= k) {
        throw new RangeError(`missing index must be an integer in 0..${k - 1}, got ${j}`);
      }
      if (isMissing[j] !== 0) throw new RangeError(`missing index ${j} listed twice`);
      isMissing[j] = 1;
    }
    const parityIdx = new Array<number>(l);
    const seenParity = new Uint8Array(GF_SIZE);
    for (let t = 0; t < l; t++) {
      const { index, bytes } = parity[t];
      checkParityIndex(k, index);
      if (seenParity[index] !== 0) throw new RangeError(`parity index ${index} given twice`);
      seenParity[index] = 1;
      if (bytes.length !== blockBytes) {
        throw new RangeError(`parity ${index} has ${bytes.length} bytes, data blocks have ${blockBytes}`);
      }
      parityIdx[t] = index;
    }
    if (l === 0) return;

    // Syndromes: s_t = parity_t - sum_{j present} c(p_t, j) d_j = sum_u c(p_t, m_u) d_{m_u}.
    // Rows are 4-byte aligned in the scratch so mulAddRow can take its word loop.
    const stride = (blockBytes + 3) & ~3;
    if (this.#scratch.length < l * stride) this.#scratch = new Uint8Array(l * stride);
    const syndromes = new Array<Uint8Array>(l);
    for (let t = 0; t < l; t++) {
      const s = this.#scratch.subarray(t * stride, t * stride + blockBytes);
      s.set(parity[t].bytes);
      const x = k + parityIdx[t];
      for (let j = 0; j < k; j++) {
        if (isMissing[j] === 0) mulAddRow(s, data[j], gfInv(x ^ j), blockBytes);
      }
      syndromes[t] = s;
    }

    // The parity bytes were copied above, so outputs may alias them.
    const inv = this.#inverseFor(k, missing, parityIdx);
    for (let u = 0; u < l; u++) {
      const out = data[missing[u]];
      out.fill(0);
      for (let t = 0; t < l; t++) mulAddRow(out, syndromes[t], inv[u * l + t], blockBytes);
    }
  }

  #inverseFor(k: number, missing: readonly number[], parityIdx: readonly number[]): Uint8Array {
    const key = `${k}|${missing.join(',')}|${parityIdx.join(',')}`;
    const cached = this.#inverses.get(key);
    if (cached !== undefined) {
      // Re-insert so Map order stays least recently used first.
      this.#inverses.delete(key);
      this.#inverses.set(key, cached);
      return cached;
    }
    const inv = invertCauchySubmatrix(k, missing, parityIdx);
    if (this.#maxInverseCacheEntries > 0) {
      if (this.#inverses.size >= this.#maxInverseCacheEntries) {
        const oldest = this.#inverses.keys().next();
        if (oldest.done !== true) this.#inverses.delete(oldest.value);
      }
      this.#inverses.set(key, inv);
    }
    return inv;
  }
}
