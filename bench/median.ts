// The median every bench reports: one definition, so the tables of different benches
// mean the same thing by it.

/** Median of finite or infinite numbers (Infinity sorts last); null for an empty list. */
export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  if (s.length % 2 === 1) return s[mid]!;
  const lo = s[mid - 1]!;
  const hi = s[mid]!;
  return lo === hi ? lo : (lo + hi) / 2;
}

/** median() for a list the caller knows is not empty (NaN if it is). */
export function medianOfSome(xs: readonly number[]): number {
  return median(xs) ?? Number.NaN;
}
