// Short human-readable details (an error message) carried in REPORT and LEAVE.
// UTF-8, at most MAX_DETAIL_BYTES; the encoder truncates on a character boundary.

export const MAX_DETAIL_BYTES = 240;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

export function detailBytes(detail: string): Uint8Array {
  const b = encoder.encode(detail);
  if (b.byteLength <= MAX_DETAIL_BYTES) return b;
  // Cut at MAX_DETAIL_BYTES, less the last character if the cut splits it: find where
  // that character starts (continuation bytes are 10xxxxxx) and how long its lead says it is.
  let start = MAX_DETAIL_BYTES;
  while (start > 0 && (b[start - 1]! & 0xc0) === 0x80) start--;
  if (start === 0) return b.subarray(0, 0);
  const lead = b[start - 1]!;
  const len = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return b.subarray(0, start - 1 + len > MAX_DETAIL_BYTES ? start - 1 : MAX_DETAIL_BYTES);
}

export function decodeDetail(b: Uint8Array): string {
  return decoder.decode(b);
}
