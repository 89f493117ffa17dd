// Slice, block and stripe arithmetic shared by both cores.
//
// The image is cut into slices of `sliceBlocks` blocks of `blockBytes`; only the last
// slice may be short, and only its last block. Block b of a slice belongs to stripe
// b % stripes (interleaved, as udpcast's FEC stripes, so a burst of losses spreads over
// the stripes); each stripe is one Reed-Solomon code word of k <= 255 data blocks.

import { DATA_FLAG_FINAL_SLICE, DATA_FLAG_PARITY, type Data } from './messages/data.js';
import { IMAGE_BYTES_UNKNOWN } from './messages/hello.js';
import { err, ok, type Result } from './result.js';

export interface Geometry {
  readonly blockBytes: number;
  readonly sliceBlocks: number;
  readonly stripes: number;
  /** IMAGE_BYTES_UNKNOWN until END says. */
  readonly imageBytes: number;
}

export function fullSliceBytes(g: Geometry): number {
  return g.sliceBlocks * g.blockBytes;
}

export function blocksInSlice(g: Geometry, sliceBytes: number): number {
  return Math.ceil(sliceBytes / g.blockBytes);
}

/** Data blocks of one stripe in a slice of `nBlocks` blocks. */
export function stripeBlocks(g: Geometry, nBlocks: number, stripe: number): number {
  if (stripe >= nBlocks) return 0;
  return Math.floor((nBlocks - 1 - stripe) / g.stripes) + 1;
}

/** Parity indices 0..maxParity-1 exist for a stripe of k data blocks (Cauchy code: k + m <= 256). */
export function maxParity(k: number): number {
  return 256 - k;
}

export function totalSlices(g: Geometry, imageBytes: number): number {
  return Math.ceil(imageBytes / fullSliceBytes(g));
}

/** Image bytes in slice `sliceNo` of an image of known size. */
export function sliceBytesOf(g: Geometry, imageBytes: number, sliceNo: number): number {
  const full = fullSliceBytes(g);
  return Math.max(0, Math.min(full, imageBytes - sliceNo * full));
}

export function blockPayloadBytes(g: Geometry, sliceBytes: number, blockNo: number): number {
  return Math.min(g.blockBytes, sliceBytes - blockNo * g.blockBytes);
}

/**
 * Checks a decoded DATA against the session's geometry: everything a wire number could
 * get wrong (a slice past the image, a block past the slice, a payload of the wrong
 * length, a parity index the code cannot have).
 */
export function checkDataAgainstSession(g: Geometry, d: Data): Result<Data> {
  const full = fullSliceBytes(g);
  if (d.sliceBytes > full) return err('ERR_BAD_FIELD', 'DATA sliceBytes > slice');
  const final = (d.flags & DATA_FLAG_FINAL_SLICE) !== 0;
  if (!final && d.sliceBytes !== full) return err('ERR_BAD_FIELD', 'DATA short slice not final');
  if (g.imageBytes !== IMAGE_BYTES_UNKNOWN) {
    const n = totalSlices(g, g.imageBytes);
    if (d.sliceNo >= n) return err('ERR_BAD_FIELD', 'DATA sliceNo past image');
    if (d.sliceBytes !== sliceBytesOf(g, g.imageBytes, d.sliceNo)) return err('ERR_BAD_FIELD', 'DATA sliceBytes');
    if (final !== (d.sliceNo === n - 1)) return err('ERR_BAD_FIELD', 'DATA final flag');
  }
  const nBlocks = blocksInSlice(g, d.sliceBytes);
  if ((d.flags & DATA_FLAG_PARITY) !== 0) {
    if (d.stripe >= g.stripes) return err('ERR_BAD_FIELD', 'DATA stripe');
    const k = stripeBlocks(g, nBlocks, d.stripe);
    if (k === 0) return err('ERR_BAD_FIELD', 'DATA empty stripe');
    if (d.blockNo >= maxParity(k)) return err('ERR_BAD_FIELD', 'DATA parity index');
    if (d.payload.byteLength !== g.blockBytes) return err('ERR_BAD_LENGTH', 'DATA parity payload');
  } else {
    if (d.blockNo >= nBlocks) return err('ERR_BAD_FIELD', 'DATA blockNo');
    if (d.payload.byteLength !== blockPayloadBytes(g, d.sliceBytes, d.blockNo)) {
      return err('ERR_BAD_LENGTH', 'DATA payload');
    }
  }
  return ok(d);
}

export { IMAGE_BYTES_UNKNOWN };
