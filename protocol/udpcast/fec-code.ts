// udpcast's erasure code, reproduced bit-exactly (test/unit/protocol/udpcast/fec-code.test.ts
// checks it against parity recorded from Debian's `udp-sender --fec`).
//
// A slice of N data blocks is cut into S stripes: stripe s holds blocks s, s+S, s+2S, …
// (k_s = ceil((N - s) / S) of them, at most 128). Parity row r (0..127) of stripe s is
//
//     P[s][r] = sum_j c(r, j) * d[s][j]      c(r, j) = 1 / (r XOR (128 + j))
//
// bytewise in GF(2^8) with polynomial 0x11D (protocol/fec/gf256.ts, the same field). That is
// a Cauchy matrix with x_r = r and y_j = 128 + j (udpcast's fec.c derives it from a 128+128
// Vandermonde system and rescales rows), so any L rows rebuild any L erased blocks. It does
// not depend on k_s or on how many rows are sent: a partial stripe is coded as if its missing
// trailing blocks were zero, and a sender may send any rows, in any round ("fresh" parity).
// The last data block of a slice is zero-padded to a full block for coding; its DATA stays
// short. FEC datagram fecBlockNo = r * S + s (fec-block.ts).
//
// This is not rackcast's own code (protocol/fec/cauchy-rs.ts: x_i = k + i, y_j = j, columns
// scaled); the two do not interoperate.

import { gfInv, gfMul, mulAddRow } from '../fec/gf256.js';
import { MAX_FEC_ROWS, MAX_STRIPE_BLOCKS } from './wire.js';

/** c(r, j) for r < 128, j < 128. */
export function udpcastCoefficient(row: number, dataIndex: number): number {
  return gfInv(row ^ (MAX_STRIPE_BLOCKS + dataIndex));
}

/** k_s: data blocks of stripe `stripe` in a slice of `sliceBlocks` blocks cut into `stripes`. */
export function stripeBlockCount(sliceBlocks: number, stripes: number, stripe: number): number {
  return stripe >= sliceBlocks ? 0 : Math.ceil((sliceBlocks - stripe) / stripes);
}

/** The slice block number of data block j of a stripe. */
export function stripeBlockNo(stripes: number, stripe: number, j: number): number {
  return stripe + j * stripes;
}

/** Stripes a slice needs so no stripe holds more than 128 data blocks. */
export function minStripes(sliceBlocks: number): number {
  return Math.max(1, Math.ceil(sliceBlocks / MAX_STRIPE_BLOCKS));
}

function checkRow(row: number): void {
  if (!Number.isInteger(row) || row < 0 || row >= MAX_FEC_ROWS) throw new RangeError(`udpcast FEC row must be 0..${MAX_FEC_ROWS - 1}, got ${row}`);
}

function checkStripe(blocks: readonly Uint8Array[], blockBytes: number): void {
  if (blocks.length < 1 || blocks.length > MAX_STRIPE_BLOCKS) throw new RangeError(`a stripe holds 1..${MAX_STRIPE_BLOCKS} blocks, got ${blocks.length}`);
  for (const b of blocks) if (b.byteLength !== blockBytes) throw new RangeError(`stripe block of ${b.byteLength} bytes, expected ${blockBytes}`);
}

/** A stripe made ready for encode() (an implementation may copy or transform its blocks). */
export interface PreparedStripe {
  readonly blockBytes: number;
  readonly k: number;
}

/**
 * Computes udpcast parity. The TS reference below; an accelerated one lives beside the driver
 * that can load it (sender/udpcast/parity.ts), behind this interface, with the same bytes.
 */
export interface UdpcastParityCoder {
  readonly name: string;
  /** blocks: the stripe's k (1..128) data blocks, each blockBytes long (the slice's last one zero-padded). */
  prepare(blocks: readonly Uint8Array[], blockBytes: number): PreparedStripe;
  /** Writes parity rows rows[t] into outs[t] (each blockBytes long). */
  encode(stripe: PreparedStripe, rows: readonly number[], outs: readonly Uint8Array[]): void;
}

interface TsPrepared extends PreparedStripe {
  readonly blocks: readonly Uint8Array[];
}

/** The pure-TS reference coder: one GF multiply-add pass per data block per row. */
export const tsUdpcastParityCoder: UdpcastParityCoder = {
  name: 'ts',
  prepare(blocks, blockBytes): TsPrepared {
    checkStripe(blocks, blockBytes);
    return { blockBytes, k: blocks.length, blocks };
  },
  encode(stripe, rows, outs) {
    const s = stripe as TsPrepared;
    if (rows.length !== outs.length) throw new RangeError('rows and outs differ in length');
    for (let t = 0; t < rows.length; t++) {
      checkRow(rows[t]!);
      const out = outs[t]!;
      if (out.byteLength !== s.blockBytes) throw new RangeError(`parity output of ${out.byteLength} bytes, expected ${s.blockBytes}`);
      out.fill(0);
      for (let j = 0; j < s.k; j++) mulAddRow(out, s.blocks[j]!, udpcastCoefficient(rows[t]!, j), s.blockBytes);
    }
  },
};

/** Inverts an n x n matrix over GF(256) in place (Gauss-Jordan); false if singular. */
function invertInPlace(m: Uint8Array, n: number): boolean {
  const inv = new Uint8Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    while (pivot < n && m[pivot * n + col] === 0) pivot++;
    if (pivot === n) return false;
    if (pivot !== col) {
      for (let c = 0; c < n; c++) {
        [m[col * n + c], m[pivot * n + c]] = [m[pivot * n + c]!, m[col * n + c]!];
        [inv[col * n + c], inv[pivot * n + c]] = [inv[pivot * n + c]!, inv[col * n + c]!];
      }
    }
    const scale = gfInv(m[col * n + col]!);
    for (let c = 0; c < n; c++) {
      m[col * n + c] = gfMul(m[col * n + c]!, scale);
      inv[col * n + c] = gfMul(inv[col * n + c]!, scale);
    }
    for (let r = 0; r < n; r++) {
      const f = m[r * n + col]!;
      if (r === col || f === 0) continue;
      for (let c = 0; c < n; c++) {
        m[r * n + c]! ^= gfMul(f, m[col * n + c]!);
        inv[r * n + c]! ^= gfMul(f, inv[col * n + c]!);
      }
    }
  }
  m.set(inv);
  return true;
}

/**
 * Rebuilds the erased data blocks of one stripe, as a stock receiver does: subtract every
 * known block from each parity row, then solve the L x L Cauchy system. `blocks` has k
 * entries of blockBytes (erased ones are outputs, overwritten); `parity` holds exactly
 * erased.length rows. Throws RangeError on misuse.
 */
export function decodeUdpcastStripe(
  blocks: Uint8Array[],
  erased: readonly number[],
  parity: readonly { readonly row: number; readonly bytes: Uint8Array }[],
  blockBytes: number,
): void {
  checkStripe(blocks, blockBytes);
  const l = erased.length;
  if (parity.length !== l) throw new RangeError(`${l} erased blocks need ${l} parity rows, got ${parity.length}`);
  if (l === 0) return;
  const isErased = new Uint8Array(blocks.length);
  for (const e of erased) {
    if (!Number.isInteger(e) || e < 0 || e >= blocks.length || isErased[e] === 1) throw new RangeError(`bad erased index ${e}`);
    isErased[e] = 1;
  }
  const seenRows = new Set<number>();
  const reduced = parity.map((p) => {
    checkRow(p.row);
    if (seenRows.has(p.row)) throw new RangeError(`parity row ${p.row} given twice`);
    seenRows.add(p.row);
    const y = p.bytes.slice(0, blockBytes);
    for (let j = 0; j < blocks.length; j++) if (isErased[j] === 0) mulAddRow(y, blocks[j]!, udpcastCoefficient(p.row, j), blockBytes);
    return y;
  });
  const m = new Uint8Array(l * l);
  for (let a = 0; a < l; a++) for (let b = 0; b < l; b++) m[a * l + b] = udpcastCoefficient(parity[a]!.row, erased[b]!);
  if (!invertInPlace(m, l)) throw new RangeError('singular udpcast FEC system (cannot happen for distinct rows)');
  for (let b = 0; b < l; b++) {
    const target = blocks[erased[b]!]!;
    target.fill(0);
    for (let a = 0; a < l; a++) mulAddRow(target, reduced[a]!, m[b * l + a]!, blockBytes);
  }
}
