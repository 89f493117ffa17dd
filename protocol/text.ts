// Short human-readable details (an error message) carried in REPORT and LEAVE.
// UTF-8, at most MAX_DETAIL_BYTES; the encoder truncates on a character boundary.

export const MAX_DETAIL_BYTES = 240;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

export function detailBytes(detail: string): Uint8Array {
  let b = encoder.encode(detail);
  if (b.byteLength <= MAX_DETAIL_BYTES) return b;
  b = b.subarray(0, MAX_DETAIL_BYTES);
  // Drop a partial multi-byte character at the cut: continuation bytes are 10xxxxxx.
  let end = b.byteLength;
  while (end > 0 && (b[end - 1] & 0xc0) === 0x80) end--;
  if (end > 0 && b[end - 1] >= 0xc0) end--;
  return b.subarray(0, end);
}

export function decodeDetail(b: Uint8Array): string {
  return decoder.decode(b);
}
