// The FEC seam's native side, an optional accelerator with the TS reference behind it:
// `NativeReedSolomon` runs the same column-scaled Cauchy code as protocol/fec/cauchy-rs.ts in
// C++ (the addon's raw binding is native/rs-addon.ts; built by `npm install` into
// build/Release/rackcast_rs.node), with SIMD kernels picked at run time from the CPU's
// features: gfni-avx512, gfni-avx2, avx2, ssse3 or scalar. Its output is byte-identical to the
// TS reference (test/unit/native/rs-differential.test.ts), so the wire never depends on which
// one a peer runs.
//
// `loadErasureCoder()` is what drivers call: the native coder when the addon loads, else the
// TS reference plus the reason, which the caller logs once. A missing or broken .node file (no
// compiler at install time, another platform) is never fatal.
//
// RACKCAST_RS_KERNEL=<name> forces a kernel (tests, benches, bug reports); `ts` forces the
// TypeScript reference.

import {
  type BufferRef,
  DESC_HEADER,
  DESC_MAX,
  loadRsAddon,
  MAX_OUTPUTS_PER_CALL,
  type NativeCacheStats,
  type NativeEngine,
  nativeRsStatus,
} from '../native/rs-addon.js';
import { CauchyReedSolomon, cauchyMaxParity, checkDecodeArgs, checkEncodeArgs } from '../protocol/fec/cauchy-rs.js';
import type { ErasureCoder } from '../protocol/fec/erasure-coder.js';
import type { CpuStage } from './cpu-clock.js';

// What the addon offers here (benches and tests ask beside the coder).
export { type NativeCacheStats, nativeRsStatus };

/** Environment variable that forces a kernel name, or `ts` for the TypeScript reference. */
export const RS_KERNEL_ENV = 'RACKCAST_RS_KERNEL';

export interface NativeReedSolomonOptions {
  /** Kernel name ('gfni-avx512', 'gfni-avx2', 'avx2', 'ssse3', 'scalar'); default: the best this CPU runs. */
  readonly kernel?: string;
  /** Decode inverses kept for reuse (least recently used evicted first); 0 keeps none between calls. */
  readonly inverseCacheEntries?: number;
}

/** Distinct buffers remembered while describing one call; a repeat further back is just listed twice. */
const BUFFER_LOOKBACK = 8;

/**
 * The native coder. Throws Error when the addon is not loaded, RangeError for an unavailable
 * kernel. Same contract as CauchyReedSolomon, including that a rebuilt block may share memory
 * with a parity symbol passed to decode; parity outputs must not share memory with the data.
 */
export class NativeReedSolomon implements ErasureCoder {
  readonly name = 'native-cauchy';
  /** The kernel this instance runs. */
  readonly kernel: string;
  readonly #engine: NativeEngine;

  // Reused per call, so describing a call allocates nothing. Both bounded (DESC_MAX doubles,
  // at most one buffer per block); #bufs is cleared after each call so it keeps nothing alive.
  readonly #desc = new Float64Array(DESC_MAX);
  readonly #bufs: BufferRef[] = [];

  // The data blocks of the last encode, as described then. Reading a view's .buffer and
  // .byteOffset costs ~40 ns in V8 (Node 20), as much as the arithmetic of a few blocks; a
  // sender asks for parity of the same stripe again and again, so when every block is the same
  // object as last time the description is copied instead. A view's buffer and offset never
  // change (a detached buffer shows up as a bounds error in the addon). Holds strong
  // references to one stripe's blocks (bounded: at most 255) until the next encode.
  readonly #encodeBlocks: Uint8Array[] = [];
  readonly #encodePairs = new Float64Array(2 * 255);
  readonly #encodeBufs: BufferRef[] = [];

  constructor(options: NativeReedSolomonOptions = {}) {
    const load = loadRsAddon();
    if (!load.ok) throw new Error(load.reason);
    const entries = options.inverseCacheEntries;
    if (entries !== undefined && (!Number.isInteger(entries) || entries < 0)) {
      throw new RangeError(`inverseCacheEntries must be a non-negative integer, got ${entries}`);
    }
    this.#engine = new load.addon.Engine(options.kernel, entries);
    this.kernel = this.#engine.kernel;
  }

  /** Sizes of the native caches (all bounded). */
  get cacheStats(): NativeCacheStats {
    return this.#engine.stats();
  }

  maxParity(k: number): number {
    return cauchyMaxParity(k);
  }

  encodeParity(data: readonly Uint8Array[], parityIndex: number, out: Uint8Array): void {
    checkEncodeArgs(data, parityIndex, out);
    const k = data.length;
    const desc = this.#desc;
    desc[0] = k;
    desc[1] = 1;
    desc[2] = out.length;
    desc[3] = parityIndex;
    this.#describeEncodeData(data, DESC_HEADER + 1);
    this.#describe(out, DESC_HEADER + 1 + 2 * k);
    this.#call(false);
  }

  encodeParities(data: readonly Uint8Array[], parityIndices: readonly number[], outs: readonly Uint8Array[]): void {
    if (parityIndices.length !== outs.length) {
      throw new RangeError(`encodeParities needs one output per parity index: ${parityIndices.length} indices, ${outs.length} outputs`);
    }
    for (let t = 0; t < outs.length; t++) checkEncodeArgs(data, parityIndices[t]!, outs[t]!);
    const k = data.length;
    for (let first = 0; first < outs.length; first += MAX_OUTPUTS_PER_CALL) {
      const n = Math.min(MAX_OUTPUTS_PER_CALL, outs.length - first);
      const desc = this.#desc;
      desc[0] = k;
      desc[1] = n;
      desc[2] = outs[first]!.length;
      for (let t = 0; t < n; t++) desc[DESC_HEADER + t] = parityIndices[first + t]!;
      this.#describeEncodeData(data, DESC_HEADER + n);
      let at = DESC_HEADER + n + 2 * k;
      for (let t = 0; t < n; t++, at += 2) this.#describe(outs[first + t]!, at);
      this.#call(false);
    }
  }

  decode(data: Uint8Array[], missing: readonly number[], parity: readonly { index: number; bytes: Uint8Array }[]): void {
    const len = checkDecodeArgs(data, missing, parity);
    const k = data.length;
    const l = missing.length;
    if (l === 0) return;
    const desc = this.#desc;
    desc[0] = k;
    desc[1] = l;
    desc[2] = len;
    for (let u = 0; u < l; u++) {
      desc[DESC_HEADER + u] = missing[u]!;
      desc[DESC_HEADER + l + u] = parity[u]!.index;
    }
    let at = DESC_HEADER + 2 * l;
    for (let j = 0; j < k; j++, at += 2) this.#describe(data[j]!, at);
    for (let t = 0; t < l; t++, at += 2) this.#describe(parity[t]!.bytes, at);
    this.#call(true);
  }

  /** Describes the k data blocks of an encode at desc[at..], reusing the last description when it still holds. */
  #describeEncodeData(data: readonly Uint8Array[], at: number): void {
    const k = data.length;
    const desc = this.#desc;
    const blocks = this.#encodeBlocks;
    let same = blocks.length === k;
    for (let j = 0; same && j < k; j++) same = blocks[j] === data[j];
    if (same) {
      const pairs = this.#encodePairs;
      for (let i = 0; i < 2 * k; i++) desc[at + i] = pairs[i]!;
      for (const b of this.#encodeBufs) this.#bufs.push(b);
      return;
    }
    blocks.length = 0;
    this.#encodeBufs.length = 0;
    for (let j = 0; j < k; j++) this.#describe(data[j]!, at + 2 * j);
    for (let i = 0; i < 2 * k; i++) this.#encodePairs[i] = desc[at + i]!;
    for (const b of this.#bufs) this.#encodeBufs.push(b);
    for (let j = 0; j < k; j++) blocks.push(data[j]!);
  }

  /** Writes (buffer number, byte offset) for `block` at desc[at], adding its buffer to #bufs if new. */
  #describe(block: Uint8Array, at: number): void {
    const bufs = this.#bufs;
    const buffer = block.buffer;
    const stop = Math.max(0, bufs.length - BUFFER_LOOKBACK);
    for (let i = bufs.length - 1; i >= stop; i--) {
      if (bufs[i] === buffer) {
        this.#desc[at] = i;
        this.#desc[at + 1] = block.byteOffset;
        return;
      }
    }
    if (buffer instanceof ArrayBuffer) {
      this.#desc[at] = bufs.push(buffer) - 1;
      this.#desc[at + 1] = block.byteOffset;
    } else {
      // A SharedArrayBuffer (or another realm's buffer): the view stands for its own bytes.
      this.#desc[at] = bufs.push(block) - 1;
      this.#desc[at + 1] = 0;
    }
  }

  #call(decode: boolean): void {
    try {
      if (decode) this.#engine.decode(this.#bufs, this.#desc);
      else this.#engine.encode(this.#bufs, this.#desc);
    } finally {
      this.#bufs.length = 0;
    }
  }
}

export interface LoadedErasureCoder {
  readonly coder: ErasureCoder;
  /** The kernel name ('gfni-avx512', 'avx2', ...) for the native coder, 'ts' for the reference. */
  readonly kind: string;
  /** Set when the result is not what was asked for (or not native): log it once. */
  readonly fallbackReason?: string;
}

export interface LoadErasureCoderOptions {
  /** Kernel to use instead of the best one, or 'ts'. Default: process.env.RACKCAST_RS_KERNEL. */
  readonly kernel?: string;
  readonly inverseCacheEntries?: number;
}

/** The fastest available ErasureCoder; never throws because of the addon. */
export function loadErasureCoder(options: LoadErasureCoderOptions = {}): LoadedErasureCoder {
  const requested = (options.kernel ?? process.env[RS_KERNEL_ENV])?.trim() || undefined;
  const cacheOptions = options.inverseCacheEntries === undefined ? {} : { inverseCacheEntries: options.inverseCacheEntries };
  if (requested === 'ts') return { coder: new CauchyReedSolomon(cacheOptions), kind: 'ts' };
  const load = loadRsAddon();
  if (!load.ok) return { coder: new CauchyReedSolomon(cacheOptions), kind: 'ts', fallbackReason: load.reason };
  const supported = load.addon.kernels.filter((k) => k.supported).map((k) => k.name);
  let fallbackReason: string | undefined;
  let kernel = requested;
  if (kernel !== undefined && !supported.includes(kernel)) {
    fallbackReason = `RS kernel '${kernel}' is not available here (have ${supported.join(', ')}); using ${load.addon.bestKernel}`;
    kernel = undefined;
  }
  try {
    const coder = new NativeReedSolomon({ ...cacheOptions, ...(kernel === undefined ? {} : { kernel }) });
    return fallbackReason === undefined ? { coder, kind: coder.kernel } : { coder, kind: coder.kernel, fallbackReason };
  } catch (e) {
    const reason = `native RS engine failed to start: ${e instanceof Error ? e.message : String(e)}`;
    return { coder: new CauchyReedSolomon(cacheOptions), kind: 'ts', fallbackReason: reason };
  }
}

/**
 * `coder` with its calls' CPU time added to `stage` (common/cpu-clock.ts, sampled), for the
 * drivers' CPU breakdown. Same bytes, same errors.
 */
export function timedCoder(coder: ErasureCoder, stage: CpuStage): ErasureCoder {
  const timed =
    <A extends unknown[]>(f: (...a: A) => void) =>
    (...a: A): void => {
      const t0 = stage.begin();
      try {
        f(...a);
      } finally {
        stage.end(t0);
      }
    };
  const out: ErasureCoder = {
    name: coder.name,
    maxParity: (k) => coder.maxParity(k),
    encodeParity: timed((data: readonly Uint8Array[], parityIndex: number, o: Uint8Array) => coder.encodeParity(data, parityIndex, o)),
    decode: timed((data: Uint8Array[], missing: readonly number[], parity: readonly { index: number; bytes: Uint8Array }[]) =>
      coder.decode(data, missing, parity),
    ),
  };
  const many = coder.encodeParities;
  if (many !== undefined) {
    out.encodeParities = timed((data: readonly Uint8Array[], indices: readonly number[], outs: readonly Uint8Array[]) => many.call(coder, data, indices, outs));
  }
  return out;
}
