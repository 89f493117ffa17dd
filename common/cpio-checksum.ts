// The checksum of cpio's crc format (070702), shared by the reader (receiver, verifying
// each file) and --pack (sender, writing it).

/** The crc format's checksum: the unsigned sum of the bytes, mod 2^32. */
export function addBytes(sum: number, bytes: Uint8Array): number {
  // Hot (every byte of a crc archive): 16-bit lanes of 32-bit words (SWAR) instead of a
  // byte loop; the lanes are emptied before they can overflow (128 words x 2 x 255 < 2^16).
  let s = 0;
  let i = 0;
  const n = bytes.byteLength;
  const head = Math.min(n, (4 - (bytes.byteOffset & 3)) & 3);
  for (; i < head; i++) s += bytes[i]!;
  const words = (n - i) >>> 2;
  if (words > 0) {
    const w = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words);
    let lanes = 0;
    for (let k = 0; k < words; k++) {
      const x = w[k]!;
      lanes = (lanes + (x & 0x00ff00ff) + ((x >>> 8) & 0x00ff00ff)) | 0;
      if ((k & 127) === 127) {
        s += (lanes & 0xffff) + (lanes >>> 16);
        lanes = 0;
      }
    }
    s += (lanes & 0xffff) + (lanes >>> 16);
    i += words * 4;
  }
  for (; i < n; i++) s += bytes[i]!;
  return (sum + s) % 0x1_0000_0000;
}
