// What the first bytes of an image say about it, for the sender to tell receivers
// (HELLO's CAP_IMAGE_COMPRESSED): a gzip member (RFC 1952: 1f 8b, method 8) or an LZ4 frame
// (04 22 4d 18) is decompressed by a receiver in `auto` mode, and so taken only in order.

const GZIP_MAGIC = [0x1f, 0x8b, 0x08];
const LZ4_MAGIC = [0x04, 0x22, 0x4d, 0x18];

/** The image's first bytes announce a gzip or LZ4 stream. */
export function startsCompressed(head: Uint8Array): boolean {
  const starts = (m: readonly number[]): boolean => head.byteLength >= m.length && m.every((x, i) => head[i] === x);
  return starts(GZIP_MAGIC) || starts(LZ4_MAGIC);
}
