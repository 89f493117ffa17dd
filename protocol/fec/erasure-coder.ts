// The FEC seam (NORM's encoder/decoder split): the cores only see this interface, so the pure-TS
// reference (`cauchy-rs.ts`) and an optional native accelerator are interchangeable and can be
// compared byte for byte on the same inputs. Whatever sits behind it must produce identical
// parity bytes, because parity goes on the wire.

/** A systematic erasure code over blocks of equal length (the last data block is zero-padded by the caller). */
export interface ErasureCoder {
  readonly name: string;
  /** Largest parity index usable with k data blocks: parity indices are 0..maxParity(k)-1. */
  maxParity(k: number): number;
  /** Writes parity symbol `parityIndex` of the k data blocks into `out` (out.length === blockBytes). */
  encodeParity(data: readonly Uint8Array[], parityIndex: number, out: Uint8Array): void;
  /**
   * Writes parity symbols `parityIndices[t]` into `outs[t]`, the same bytes as one encodeParity
   * call per index. Optional: a native coder reads each data block once for all of them, so
   * callers that want several symbols of one stripe should prefer it when present.
   */
  encodeParities?(data: readonly Uint8Array[], parityIndices: readonly number[], outs: readonly Uint8Array[]): void;
  /**
   * Rebuilds missing data blocks. `data` has k entries; entries listed in `missing` are
   * outputs (preallocated, will be overwritten); the others are present. `parity` gives
   * exactly missing.length received parity symbols with their indices.
   */
  decode(data: Uint8Array[], missing: readonly number[], parity: readonly { index: number; bytes: Uint8Array }[]): void;
}
