// Slice, block and stripe arithmetic shared by both cores.
//
// The image is cut into slices of `sliceBlocks` blocks of `blockBytes`; only the last
// slice may be short, and only its last block. Block b of a slice belongs to stripe
// b % stripes (interleaved, as udpcast's FEC stripes, so a burst of losses spreads over
// the stripes); each stripe is one Reed-Solomon code word of k <= 255 data blocks.

import { DATA_FLAG_FINAL_SLICE, DATA_FLAG_PARITY, type Data, type DataHeader } from './messages/data.js';
import { IMAGE_BYTES_UNKNOWN } from './messages/hello.js';
import { ok, type ProtocolErrorCode, type Result } from './result.js';

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
  const e = dataFieldsError(g, d, d.payload.byteLength);
  return e ?? ok(d);
}

/**
 * checkDataAgainstSession on the header fields and the payload's length: the error, or
 * undefined when DATA fits the session. Allocates nothing when it fits (the receiver runs it
 * on every DATA, including those a socket already placed into their slice).
 */
/** Why a DATA does not fit the session (a Result's error case). */
export type DataFieldError = { readonly ok: false; readonly code: ProtocolErrorCode; readonly detail: string };

function bad(code: ProtocolErrorCode, detail: string): DataFieldError {
  return { ok: false, code, detail };
}

export function dataFieldsError(g: Geometry, d: DataHeader, payloadBytes: number): DataFieldError | undefined {
  const full = fullSliceBytes(g);
  if (d.sliceBytes > full) return bad('ERR_BAD_FIELD', 'DATA sliceBytes > slice');
  const final = (d.flags & DATA_FLAG_FINAL_SLICE) !== 0;
  if (!final && d.sliceBytes !== full) return bad('ERR_BAD_FIELD', 'DATA short slice not final');
  if (g.imageBytes !== IMAGE_BYTES_UNKNOWN) {
    const n = totalSlices(g, g.imageBytes);
    if (d.sliceNo >= n) return bad('ERR_BAD_FIELD', 'DATA sliceNo past image');
    if (d.sliceBytes !== sliceBytesOf(g, g.imageBytes, d.sliceNo)) return bad('ERR_BAD_FIELD', 'DATA sliceBytes');
    if (final !== (d.sliceNo === n - 1)) return bad('ERR_BAD_FIELD', 'DATA final flag');
  }
  const e = dataIndexError(g, d);
  if (e !== undefined) return e;
  if ((d.flags & DATA_FLAG_PARITY) !== 0) {
    if (payloadBytes !== g.blockBytes) return bad('ERR_BAD_LENGTH', 'DATA parity payload');
  } else if (payloadBytes !== blockPayloadBytes(g, d.sliceBytes, d.blockNo)) {
    return bad('ERR_BAD_LENGTH', 'DATA payload');
  }
  return undefined;
}

/**
 * The part of dataFieldsError that a slice's memory is indexed with: a parity symbol's
 * stripe and index, a data block's number, within the slice `d.sliceBytes` says. Slice
 * assembly (receiver/core/assembly.ts) runs it too, before it indexes anything.
 */
export function dataIndexError(g: Geometry, d: DataHeader): DataFieldError | undefined {
  const nBlocks = blocksInSlice(g, d.sliceBytes);
  if ((d.flags & DATA_FLAG_PARITY) !== 0) {
    if (d.stripe >= g.stripes) return bad('ERR_BAD_FIELD', 'DATA stripe');
    const k = stripeBlocks(g, nBlocks, d.stripe);
    if (k === 0) return bad('ERR_BAD_FIELD', 'DATA empty stripe');
    if (d.blockNo >= maxParity(k)) return bad('ERR_BAD_FIELD', 'DATA parity index');
  } else if (d.blockNo >= nBlocks) {
    return bad('ERR_BAD_FIELD', 'DATA blockNo');
  }
  return undefined;
}

export { IMAGE_BYTES_UNKNOWN };
