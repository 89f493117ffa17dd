// Command-line values the benches share the reading of: an integer option in a range, read
// from node:util parseArgs' values, with the bench's own usage() for the one-line refusal.

/** --name as an integer in min..max (dflt when absent); otherwise `fail` says so and exits. */
export function intOption(values: Record<string, unknown>, name: string, dflt: number, min: number, max: number, fail: (msg: string) => never): number {
  const raw = values[name];
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer in ${min}..${max}, got ${String(raw)}`);
  return n;
}
