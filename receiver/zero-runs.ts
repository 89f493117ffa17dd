// Zero detection for sparse writing: which parts of a buffer must be written when
// whole, aligned blocks of zeros may be left as holes. Compares through Buffer.compare
// (memcmp), not a JS loop.

const ZERO_BLOCK_BYTES = 1 << 20;
const ZEROS = Buffer.alloc(ZERO_BLOCK_BYTES);

/** True when every byte of `b` is 0. */
export function isAllZero(b: Uint8Array): boolean {
  for (let off = 0; off < b.byteLength; off += ZERO_BLOCK_BYTES) {
    const n = Math.min(ZERO_BLOCK_BYTES, b.byteLength - off);
    if (Buffer.compare(Buffer.from(b.buffer, b.byteOffset + off, n), ZEROS.subarray(0, n)) !== 0) return false;
  }
  return true;
}

/**
 * The [start, end) ranges of `b` to write, in order: everything except the blocks of
 * `blockBytes` (aligned to the output offset `at`, wholly inside `b`) that are all zero.
 * Adjacent ranges are merged, so a buffer without zero blocks is one range.
 */
export function dataRuns(b: Uint8Array, at: number, blockBytes: number): [number, number][] {
  const runs: [number, number][] = []; // bounded: at most one per block of b
  const n = b.byteLength;
  let runStart = -1;
  let i = 0;
  // The unaligned head is always data.
  const head = Math.min(n, (blockBytes - (at % blockBytes)) % blockBytes);
  if (head > 0) {
    runStart = 0;
    i = head;
  }
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  for (; i < n; i += blockBytes) {
    const end = Math.min(n, i + blockBytes);
    const zero = end - i === blockBytes && Buffer.compare(buf.subarray(i, end), ZEROS.subarray(0, blockBytes)) === 0;
    if (zero) {
      if (runStart >= 0) runs.push([runStart, i]);
      runStart = -1;
    } else if (runStart < 0) {
      runStart = i;
    }
  }
  if (runStart >= 0) runs.push([runStart, n]);
  return runs;
}
