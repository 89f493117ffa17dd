// END — sender → rendezvous group. The whole image has been sent once: its size, its
// slice count and the SHA-256 of every byte sent. Repeated until every receiver has
// reported or been dropped.
//
// off size field
//   0    8 header          (type 9)
//   8    8 totalBytes      u64 image bytes
//  16    4 totalSlices     u32 slices in the image (0 for an empty image)
//  20   32 digest          SHA-256 of the image as sent

import { encodeHeader, expectHeader, getU64, MessageType, setU64, view } from '../header.js';
import { err, ok, type Result } from '../result.js';

export const END_SIZE = 52;
export const DIGEST_BYTES = 32;
const OFF_TOTAL_BYTES = 8;
const OFF_TOTAL_SLICES = 16;
const OFF_DIGEST = 20;

export interface End {
  readonly sessionId: number;
  readonly totalBytes: number;
  readonly totalSlices: number;
  readonly digest: Uint8Array;
}

export function encodeEnd(msg: End, buf: Uint8Array, off = 0): number {
  if (msg.digest.byteLength !== DIGEST_BYTES) throw new RangeError('END digest must be 32 bytes');
  const b = buf.subarray(off, off + END_SIZE);
  encodeHeader(MessageType.End, msg.sessionId, b);
  const v = view(b);
  setU64(v, OFF_TOTAL_BYTES, msg.totalBytes);
  v.setUint32(OFF_TOTAL_SLICES, msg.totalSlices >>> 0, false);
  b.set(msg.digest, OFF_DIGEST);
  return END_SIZE;
}

export function decodeEnd(bytes: Uint8Array): Result<End> {
  const h = expectHeader(bytes, MessageType.End, END_SIZE);
  if (!h.ok) return h;
  if (bytes.byteLength !== END_SIZE) return err('ERR_BAD_LENGTH', 'END');
  const v = view(bytes);
  const totalBytes = getU64(v, OFF_TOTAL_BYTES);
  const totalSlices = v.getUint32(OFF_TOTAL_SLICES, false);
  if (totalBytes < 0) return err('ERR_BAD_FIELD', 'END totalBytes');
  if ((totalBytes === 0) !== (totalSlices === 0)) return err('ERR_BAD_FIELD', 'END totalSlices');
  if (totalSlices > totalBytes) return err('ERR_BAD_FIELD', 'END totalSlices');
  return ok({
    sessionId: h.value.sessionId,
    totalBytes,
    totalSlices,
    digest: bytes.slice(OFF_DIGEST, OFF_DIGEST + DIGEST_BYTES),
  });
}
