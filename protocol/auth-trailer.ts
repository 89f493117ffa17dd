// The trailer --key-file appends to every rackcast datagram (common/auth/seal.ts seals and
// opens; this file is only the layout). A sealed datagram is:
//
//   mac mode:      | rackcast datagram (header + body), plain          | trailer |
//   encrypt mode:  | common header (8 bytes), plain | body, AES-256-GCM | trailer |
//
// The trailer is the same 28 bytes in both modes (so the bytes it adds do not depend on the
// mode):
//
// off size field
//   0    4 sourceId   u32 BE, random per process
//   4    8 counter    u64 BE, +1 per datagram the process seals; starts at random below 2^48
//  12   16 tag        mac:     HMAC-SHA-256(macKey, datagram || sourceId || counter), first 16 bytes
//                     encrypt: AES-256-GCM tag; nonce = sourceId || counter (96 bits),
//                              AAD = common header (magic, version, type, sessionId) || sourceId || counter
//
// The trailer sits at the end, so a reader finds it at `datagram length - AUTH_TRAILER_SIZE`.
// Counters stay below 2^53 (exact JavaScript numbers); a trailer with a larger one was not
// made by a sealer.

import { HEADER_SIZE } from './header.js';

export const OFF_SOURCE_ID = 0;
export const OFF_COUNTER = 4;
export const OFF_TAG = 12;
/** sourceId + counter: the GCM nonce, and what the MAC covers after the datagram. */
export const AUTH_NONCE_SIZE = 12;
export const AUTH_TAG_SIZE = 16;
export const AUTH_TRAILER_SIZE = OFF_TAG + AUTH_TAG_SIZE;

/** The smallest sealed datagram: a common header and a trailer. */
export const MIN_SEALED_SIZE = HEADER_SIZE + AUTH_TRAILER_SIZE;

/** The largest counter a sealer uses (2^53 - 1). */
export const MAX_SEAL_COUNTER = Number.MAX_SAFE_INTEGER;

/**
 * Writes sourceId (a u32) and counter (at most MAX_SEAL_COUNTER) into the trailer that starts
 * at `at`; the tag is the sealer's to write.
 */
export function encodeTrailerIds(bytes: Uint8Array, at: number, sourceId: number, counter: number): void {
  setU32(bytes, at + OFF_SOURCE_ID, sourceId);
  setU32(bytes, at + OFF_COUNTER, Math.floor(counter / 0x1_0000_0000));
  setU32(bytes, at + OFF_COUNTER + 4, counter >>> 0);
}

/** The sourceId of the trailer that starts at `at`. */
export function decodeTrailerSourceId(bytes: Uint8Array, at: number): number {
  return getU32(bytes, at + OFF_SOURCE_ID);
}

/** The counter of the trailer that starts at `at`, or -1 when it is 2^53 or more (no sealer made it). */
export function decodeTrailerCounter(bytes: Uint8Array, at: number): number {
  const hi = getU32(bytes, at + OFF_COUNTER);
  if (hi > 0x1f_ffff) return -1;
  return hi * 0x1_0000_0000 + getU32(bytes, at + OFF_COUNTER + 4);
}

// Byte by byte rather than through a DataView: the sealer and opener run these once per
// datagram on views of other buffers, and a DataView per call would be an allocation each.
function getU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

function setU32(b: Uint8Array, off: number, n: number): void {
  b[off] = n >>> 24;
  b[off + 1] = (n >>> 16) & 0xff;
  b[off + 2] = (n >>> 8) & 0xff;
  b[off + 3] = n & 0xff;
}
