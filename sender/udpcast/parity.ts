// udpcast parity on the native Reed-Solomon kernels (native/rs-addon.ts), behind the same
// UdpcastParityCoder interface as the TS reference (protocol/udpcast/fec-code.ts), byte for
// byte the same (test/unit/sender/udpcast/parity.test.ts).
//
// Why it works: the native coder computes rackcast's Cauchy code, parity_i = sum_j
// c'(i, j) d_j with c'(i, j) = (k XOR j) / ((k + i) XOR j). With k = 128 and i, j < 128,
// (128 + i) XOR j = 128 + (i XOR j), which is udpcast's r XOR (128 + j) for r = i, so
// c'(i, j) = (128 + j) * c_udpcast(i, j). Feeding it d_j / (128 + j) instead of d_j (one
// multiply per data byte, once per stripe, however many rows follow), with the stripe padded
// to 128 blocks by zeros (which add nothing), gives udpcast's parity row i exactly.

import { type LoadErasureCoderOptions, loadErasureCoder, RS_KERNEL_ENV } from '../../common/fec.js';
import type { ErasureCoder } from '../../protocol/fec/erasure-coder.js';
import { gfInv, mulAddRow } from '../../protocol/fec/gf256.js';
import { type PreparedStripe, tsUdpcastParityCoder, type UdpcastParityCoder } from '../../protocol/udpcast/fec-code.js';
import { MAX_STRIPE_BLOCKS } from '../../protocol/udpcast/wire.js';

interface NativePrepared extends PreparedStripe {
  readonly scaled: readonly Uint8Array[];
}

/** `kernel`, when known, goes into the coder's name (the sender's --json reports it). */
export function nativeUdpcastParityCoder(rs: ErasureCoder, kernel?: string): UdpcastParityCoder {
  const zeros = new Map<number, Uint8Array>(); // bounded: one per block size in use
  return {
    name: `udpcast-on-${rs.name}${kernel === undefined ? '' : `-${kernel}`}`,
    prepare(blocks, blockBytes): NativePrepared {
      tsUdpcastParityCoder.prepare(blocks, blockBytes); // the same argument checks
      let zero = zeros.get(blockBytes);
      if (zero === undefined) {
        zero = new Uint8Array(blockBytes);
        zeros.set(blockBytes, zero);
      }
      const one = new Uint8Array(blocks.length * blockBytes);
      const scaled: Uint8Array[] = [];
      for (let j = 0; j < MAX_STRIPE_BLOCKS; j++) {
        if (j >= blocks.length) {
          scaled.push(zero);
          continue;
        }
        const out = one.subarray(j * blockBytes, (j + 1) * blockBytes);
        mulAddRow(out, blocks[j]!, gfInv(MAX_STRIPE_BLOCKS + j), blockBytes);
        scaled.push(out);
      }
      return { blockBytes, k: blocks.length, scaled };
    },
    encode(stripe, rows, outs) {
      const s = stripe as NativePrepared;
      if (rows.length !== outs.length) throw new RangeError('rows and outs differ in length');
      for (const r of rows) if (!Number.isInteger(r) || r < 0 || r >= MAX_STRIPE_BLOCKS) throw new RangeError(`udpcast FEC row must be 0..127, got ${r}`);
      if (rs.encodeParities !== undefined) rs.encodeParities(s.scaled, rows, outs);
      else for (let t = 0; t < rows.length; t++) rs.encodeParity(s.scaled, rows[t]!, outs[t]!);
    },
  };
}

export interface LoadedUdpcastParityCoder {
  readonly coder: UdpcastParityCoder;
  /** True when the coder runs on the native kernels. */
  readonly native: boolean;
  /** Set when the result is not what was asked for, or not native: log it once. */
  readonly fallbackReason: string | undefined;
}

/**
 * The fastest udpcast coder here: on the native kernels when they load, else the TS reference
 * (and why). `loadErasureCoder` names the kernel it picked ('gfni-avx512', 'avx2', ...) or
 * 'ts' in `kind`, so native is "not 'ts'" (a class check would fail across module graphs).
 */
export function loadUdpcastParityCoder(options: LoadErasureCoderOptions = {}): LoadedUdpcastParityCoder {
  const rs = loadErasureCoder(options);
  if (rs.kind === 'ts')
    return { coder: tsUdpcastParityCoder, native: false, fallbackReason: rs.fallbackReason ?? `the TypeScript coder was asked for (${RS_KERNEL_ENV}=ts)` };
  return { coder: nativeUdpcastParityCoder(rs.coder, rs.kind), native: true, fallbackReason: rs.fallbackReason };
}
