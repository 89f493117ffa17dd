// Systematic Cauchy Reed-Solomon erasure code over GF(256): the pure-TS reference ErasureCoder.
//
// Construction (Blömer, Kalfane, Karp, Karpinski, Luby, Zuckerman, "An XOR-Based
// Erasure-Resilient Coding Scheme", ICSI TR-95-048, 1995; see also Plank & Xu, "Optimizing
// Cauchy Reed-Solomon Codes for Fault-Tolerant Network Storage Applications", IEEE NCA 2006):
//
//   data block j   <-> field element y_j = j          (j in 0..k-1)
//   parity i       <-> field element x_i = k + i      (i in 0..255-k)
//   c(i, j)        =   1 / (x_i + y_j) = gfInv(x_i XOR y_j)               (the Cauchy matrix C)
//   c'(i, j)       =   c(i, j) / c(0, j) = (k XOR j) / ((k + i) XOR j)   (C with column j scaled)
//   parity_i       =   sum_j c'(i, j) * d_j
//
// The x's and y's are 256 distinct field elements, so x_i + y_j is never 0, and C is a Cauchy
// matrix. Every square submatrix of a Cauchy matrix is itself a Cauchy matrix, and a Cauchy
// matrix is nonsingular (det = prod_{a<b} (x_a - x_b)(y_b - y_a) / prod_{a,b} (x_a + y_b)).
//
// Why the scaled C' is still MDS: C' = C * D with D = diag(1 / c(0, j)), all nonzero. A square
// submatrix of C' on rows R and columns S is C[R, S] * D[S, S], so its determinant is
// det C[R, S] * prod_{j in S} 1 / c(0, j): a nonzero number times a product of nonzero numbers,
// never 0. With generator [I; C'], losing L data blocks and holding any L parity symbols leaves
// exactly the L x L submatrix C'[parity rows, missing columns] to invert, which is always
// possible: any k of the k + m symbols rebuild the data. The parity rows are independent of each
// other and of m, so a sender can emit "fresh" parity (index 5, 17, ...) in a later round and the
// receiver can combine it with whatever it already holds.
//
// Why scale: c'(0, j) = 1 for every j, so parity 0 is the plain XOR of the data blocks. The most
// common repair (one loss, first parity) then costs one XOR pass in encode and in decode, and
// the native kernels skip the multiply for every coefficient equal to 1.
//
// This is not udpcast's `fec.c` (Rizzo's Vandermonde code); the two do not interoperate.

import type { ErasureCoder } from './erasure-coder.js';
import { GF_SIZE, gfDiv, gfInv, gfMul, mulAddRow } from './gf256.js';

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

/**
 * c'(i, j) = (k XOR j) / ((k + i) XOR j) for indices already range-checked. Neither side is 0:
 * j < k <= k + i, so k XOR j != 0 and (k + i) XOR j != 0.
 */
function coefficient(k: number, parityIndex: number, dataIndex: number): number {
  return gfDiv(k ^ dataIndex, (k + parityIndex) ^ dataIndex);
}

/**
 * Checks encodeParity's arguments (RangeError on misuse). Shared with the native coder so both
 * reject exactly the same calls with the same messages.
 */
export function checkEncodeArgs(data: readonly Uint8Array[], parityIndex: number, out: Uint8Array): void {
  const k = data.length;
  checkK(k);
  checkParityIndex(k, parityIndex);
  const blockBytes = out.length;
  for (let j = 0; j < k; j++) {
    if (data[j]!.length !== blockBytes) {
      throw new RangeError(`data block ${j} has ${data[j]!.length} bytes, parity output has ${blockBytes}`);
    }
  }
}

/** Checks decode's arguments (RangeError on misuse) and returns the block length. Shared like checkEncodeArgs. */
export function checkDecodeArgs(data: readonly Uint8Array[], missing: readonly number[], parity: readonly { index: number; bytes: Uint8Array }[]): number {
  const k = data.length;
  checkK(k);
  const l = missing.length;
  if (parity.length !== l) {
    throw new RangeError(`decode needs exactly one parity symbol per missing block: ${l} missing, ${parity.length} parity`);
  }
  const blockBytes = data[0]!.length;
  for (let j = 1; j < k; j++) {
    if (data[j]!.length !== blockBytes) {
      throw new RangeError(`data block ${j} has ${data[j]!.length} bytes, block 0 has ${blockBytes}`);
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
  const seenParity = new Uint8Array(GF_SIZE);
  for (let t = 0; t < l; t++) {
    const { index, bytes } = parity[t]!;
    checkParityIndex(k, index);
    if (seenParity[index] !== 0) throw new RangeError(`parity index ${index} given twice`);
    seenParity[index] = 1;
    if (bytes.length !== blockBytes) {
      throw new RangeError(`parity ${index} has ${bytes.length} bytes, data blocks have ${blockBytes}`);
    }
  }
  return blockBytes;
}

/** maxParity(k) shared by every implementation of this code: parity indices are 0..255-k. */
export function cauchyMaxParity(k: number): number {
  checkK(k);
  return GF_SIZE - k;
}

/** c'(i, j): the coefficient of data block j in parity symbol i, for k data blocks (1 when i = 0). */
export function cauchyCoefficient(k: number, parityIndex: number, dataIndex: number): number {
  checkK(k);
  checkParityIndex(k, parityIndex);
  if (!Number.isInteger(dataIndex) || dataIndex < 0 || dataIndex >= k) {
    throw new RangeError(`data index must be an integer in 0..${k - 1}, got ${dataIndex}`);
  }
  return coefficient(k, parityIndex, dataIndex);
}

/**
 * Inverts the L x L matrix C'[t][u] = c'(parityIdx[t], missing[u]) by Gauss-Jordan elimination.
 * Returns the inverse row-major: d_missing[u] = sum_t inv[u*L + t] * syndrome_t.
 */
function invertCauchySubmatrix(k: number, missing: readonly number[], parityIdx: readonly number[]): Uint8Array {
  const l = missing.length;
  const a = new Uint8Array(l * l);
  const inv = new Uint8Array(l * l);
  for (let t = 0; t < l; t++) {
    for (let u = 0; u < l; u++) a[t * l + u] = coefficient(k, parityIdx[t]!, missing[u]!);
    inv[t * l + t] = 1;
  }
  for (let col = 0; col < l; col++) {
    let pivot = col;
    while (pivot < l && a[pivot * l + col] === 0) pivot++;
    if (pivot === l) {
      // Unreachable for a (column-scaled) Cauchy matrix; reaching it means the tables or indices are wrong.
      throw new Error(`internal: singular Cauchy submatrix (k=${k}, missing=${missing}, parity=${parityIdx})`);
    }
    if (pivot !== col) {
      for (let c = 0; c < l; c++) {
        const p = pivot * l + c;
        const q = col * l + c;
        let tmp = a[p];
        a[p] = a[q]!;
        a[q] = tmp!;
        tmp = inv[p];
        inv[p] = inv[q]!;
        inv[q] = tmp!;
      }
    }
    const colRow = col * l;
    const scale = gfInv(a[colRow + col]!);
    if (scale !== 1) {
      for (let c = 0; c < l; c++) {
        a[colRow + c] = gfMul(a[colRow + c]!, scale);
        inv[colRow + c] = gfMul(inv[colRow + c]!, scale);
      }
    }
    const pivotA = a.subarray(colRow, colRow + l);
    const pivotInv = inv.subarray(colRow, colRow + l);
    for (let r = 0; r < l; r++) {
      if (r === col) continue;
      const factor = a[r * l + col]!;
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
    return cauchyMaxParity(k);
  }

  encodeParity(data: readonly Uint8Array[], parityIndex: number, out: Uint8Array): void {
    checkEncodeArgs(data, parityIndex, out);
    const k = data.length;
    const blockBytes = out.length;
    // c'(i, 0) is 1 only for parity 0; copying the first term saves a zero fill and a pass.
    if (parityIndex === 0) out.set(data[0]!);
    else {
      out.fill(0);
      mulAddRow(out, data[0]!, coefficient(k, parityIndex, 0), blockBytes);
    }
    // Parity 0: every coefficient is 1 and mulAddRow takes its XOR path.
    for (let j = 1; j < k; j++) mulAddRow(out, data[j]!, coefficient(k, parityIndex, j), blockBytes);
  }

  encodeParities(data: readonly Uint8Array[], parityIndices: readonly number[], outs: readonly Uint8Array[]): void {
    if (parityIndices.length !== outs.length) {
      throw new RangeError(`encodeParities needs one output per parity index: ${parityIndices.length} indices, ${outs.length} outputs`);
    }
    for (let t = 0; t < parityIndices.length; t++) this.encodeParity(data, parityIndices[t]!, outs[t]!);
  }

  decode(data: Uint8Array[], missing: readonly number[], parity: readonly { index: number; bytes: Uint8Array }[]): void {
    const blockBytes = checkDecodeArgs(data, missing, parity);
    const k = data.length;
    const l = missing.length;
    if (l === 0) return;
    const isMissing = new Uint8Array(k);
    for (const j of missing) isMissing[j] = 1;
    const parityIdx = parity.map((p) => p.index);

    // Syndromes: s_t = parity_t - sum_{j present} c'(p_t, j) d_j = sum_u c'(p_t, m_u) d_{m_u}.
    // Rows are 4-byte aligned in the scratch so mulAddRow can take its word loop.
    const stride = (blockBytes + 3) & ~3;
    if (this.#scratch.length < l * stride) this.#scratch = new Uint8Array(l * stride);
    const syndromes = new Array<Uint8Array>(l);
    for (let t = 0; t < l; t++) {
      const s = this.#scratch.subarray(t * stride, t * stride + blockBytes);
      s.set(parity[t]!.bytes);
      const p = parityIdx[t]!;
      // Parity 0 (all coefficients 1): mulAddRow's XOR path.
      for (let j = 0; j < k; j++) {
        if (isMissing[j] === 0) mulAddRow(s, data[j]!, p === 0 ? 1 : coefficient(k, p, j), blockBytes);
      }
      syndromes[t] = s;
    }

    // The parity bytes were copied above, so outputs may alias them.
    const inv = this.#inverseFor(k, missing, parityIdx);
    for (let u = 0; u < l; u++) {
      const out = data[missing[u]!]!;
      // One loss repaired by parity 0: the inverse is [1] and the block is the syndrome itself.
      if (inv[u * l] === 1 && l === 1) out.set(syndromes[0]!);
      else {
        out.fill(0);
        for (let t = 0; t < l; t++) mulAddRow(out, syndromes[t]!, inv[u * l + t]!, blockBytes);
      }
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
