// Sequence-number arithmetic shared by both cores. DATA carries a u32 sequence number that
// wraps; the signed 32-bit difference orders two numbers less than 2^31 apart.

/** a − b as a signed 32-bit difference: > 0 when a is after b, < 0 when before. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}
