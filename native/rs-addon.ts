// The Reed-Solomon addon's raw binding: what build/Release/rackcast_rs.node exports (built
// from native/addon.cc, engine.cc and the kernels), the descriptor layout its calls take,
// and whether it loads here. The ErasureCoder on top of it is common/fec.ts, which also
// falls back to protocol/fec/cauchy-rs.ts when this does not load.

import { type AddonLoad, loadAddon } from './load-addon.js';

/** File name of the built addon (binding.gyp target `rackcast_rs`). */
export const RS_ADDON_FILE = 'rackcast_rs.node';

export interface NativeCacheStats {
  /** Coding tables held (one per distinct k, at most 8). */
  readonly codingTables: number;
  /** Parity rows built inside those tables. */
  readonly codingRows: number;
  /** Decode inverses held (at most inverseCacheEntries; 1 when the cache is off). */
  readonly decodeEntries: number;
  /** Bytes held by the tables, inverses and the syndrome scratch. */
  readonly bytes: number;
}

/** A backing store as the addon takes it: an ArrayBuffer, or a view standing for its own bytes. */
export type BufferRef = ArrayBuffer | Uint8Array;

/** The addon's engine; `desc` layouts are documented in native/addon.cc. */
export interface NativeEngine {
  readonly kernel: string;
  encode(bufs: readonly BufferRef[], desc: Float64Array): void;
  decode(bufs: readonly BufferRef[], desc: Float64Array): void;
  stats(): NativeCacheStats;
}

export interface NativeRsAddon {
  readonly kernels: readonly { readonly name: string; readonly supported: boolean }[];
  readonly bestKernel: string;
  readonly Engine: new (kernel?: string, inverseCacheEntries?: number) => NativeEngine;
}

/** Outputs per native encode call (native/addon.cc kMaxOutputs). */
export const MAX_OUTPUTS_PER_CALL = 255;

/** Header of a descriptor: k, then n (encode) or l (decode), then the block length. */
export const DESC_HEADER = 3;

/**
 * Largest descriptor: decode with k = 255 and l = 255 lists 2 * 255 indices and 2 * 255 blocks
 * (encode needs at most 3 + 255 + 2 * 510).
 */
export const DESC_MAX = DESC_HEADER + 2 * 255 + 2 * (255 + 255);

function isRsAddon(x: unknown): x is NativeRsAddon {
  if (typeof x !== 'object' || x === null) return false;
  const a = x as Partial<NativeRsAddon>;
  return Array.isArray(a.kernels) && typeof a.bestKernel === 'string' && typeof a.Engine === 'function';
}

let rsLoad: AddonLoad<NativeRsAddon> | undefined;

/** Loads the addon once; never throws. */
export function loadRsAddon(): AddonLoad<NativeRsAddon> {
  rsLoad ??= loadAddon({ file: RS_ADDON_FILE, label: 'native addon', isAddon: isRsAddon });
  return rsLoad;
}

/** What the addon offers on this machine, or why it is not there. */
export function nativeRsStatus():
  | {
      readonly loaded: true;
      readonly path: string;
      readonly bestKernel: string;
      readonly kernels: readonly string[];
      readonly compiledKernels: readonly string[];
    }
  | { readonly loaded: false; readonly reason: string } {
  const load = loadRsAddon();
  if (!load.ok) return { loaded: false, reason: load.reason };
  return {
    loaded: true,
    path: load.path,
    bestKernel: load.addon.bestKernel,
    kernels: load.addon.kernels.filter((k) => k.supported).map((k) => k.name),
    compiledKernels: load.addon.kernels.map((k) => k.name),
  };
}
