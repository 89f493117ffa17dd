// How a receiver spreads its random waits (NAK backoff, answers to a quiet REQACK) when
// many receivers may be waiting for the same thing: few should go before the first one is
// heard and silences the rest.

/**
 * A uniform draw u in [0, 1) mapped to [0, 1) by the inverse of a truncated exponential
 * with rate ln(group) + 1: for one receiver about uniform, for many ever more weight near
 * the end, so the expected number that go before the first is heard stays small (NORM's
 * feedback suppression timers, with the group size the REQACK carries).
 */
export function spreadByGroup(u: number, group: number): number {
  if (group <= 1) return u;
  const lambda = Math.log(group) + 1;
  return Math.log(u * (Math.exp(lambda) - 1) + 1) / lambda;
}
