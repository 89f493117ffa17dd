// How the clocks of a receiver's time-driven feedback stretch with the group, so that what
// the sender hears of them a second stays about flat from small groups on: the HEARTBEAT
// message (receiver/core/feedback.ts, from START's receiver count) and a quiet session's
// STATUS heartbeat (sender/core/probe.ts, named in each REQACK). Both roles must agree on
// the rule, so it lives here.
//
// Up to GROUP_BASE receivers the configured interval holds; beyond, it grows in proportion
// (twice the receivers, twice the interval), up to STRETCH_CAP_MS, so that the figures the
// slow-node policy, the live table and --events read are at most that old; past the point
// where that is no longer flat (a thousand receivers and more), at least MS_PER_RECEIVER per
// receiver, so the sender still hears a bounded number a second. A slice at 30 Mbit/s lasts
// 50 ms: with a fixed 250 ms heartbeat, 32 receivers sent eight times what 4 did per slice.

/** Receivers the configured interval is meant for; a larger group stretches it in proportion. */
export const GROUP_BASE = 4;
/**
 * The longest a group stretches an interval to (a configured interval longer than this
 * stays): the slow-node policy's rates are taken over 2 s of samples (sender/core/health.ts,
 * RATE_WINDOW_MS) and --events prints progress every 2 s, so a figure is at most one such
 * period old.
 */
export const STRETCH_CAP_MS = 2000;
/** Past the cap, an interval is at least this per receiver: a thousand a second at the sender whatever the size. */
export const MS_PER_RECEIVER = 1;

/** The interval for `baseMs` configured, meant for `baseReceivers`, in a session of `receivers`. */
export function groupIntervalMs(baseMs: number, receivers: number, baseReceivers = GROUP_BASE): number {
  const n = Math.max(1, receivers);
  const stretched = Math.max(baseMs, Math.min(STRETCH_CAP_MS, (baseMs * n) / baseReceivers));
  return Math.max(stretched, n * MS_PER_RECEIVER);
}
