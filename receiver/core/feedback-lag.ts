// How late feedback comes, and what the NAK timers make of it (NORM's backoff over the
// group round trip, RFC 5740: a window of k × GRTT). Suppression needs a receiver to hear
// the first NAK of its band before its own moment comes, so a band must be longer than a
// NAK takes to reach the others and be read. In the simulator at 0.2 ms that is a small
// part of a band of the CLI's 8 ms backoff (half a millisecond in a quiet session); on a
// loaded machine it is not: 33 Node processes on two cores measured repair round trips of
// 20-80 ms, deviation alike, and each of 32 receivers asked for nearly every slice.
//
// The measure is the repair round trip of the first pass: from a NAK that covers a slice
// (ours, or one we heard) to the first repair symbol for it, each end's own lag included,
// smoothed as RFC 6298 does (gains 1/8 and 1/4) with its mean deviation, which starts at
// 0 rather than RFC 6298's half a sample: a timeout errs long, a backoff here should not,
// and one slow first sample (the sender busy at the start) stretched a fast network's
// timers for a while and cost ten simulated receivers NAKs. In a quiet session (more
// than maxReportingReceivers) three things follow it, and none until it exceeds what the
// configured timers already allow (so a fast network keeps its exact timing); a small
// session keeps its configured timers (a few receivers send few NAKs however late, and
// a VM under emulation, with round trips of hundreds of ms, must not wait that long to
// ask again):
//   - the backoff window: at least BAND_RTTS round-trip timeouts a band, at most
//     MAX_BACKOFF_FACTOR × nakBackoffMs (a repair is not put off much more than a slice
//     at 30 Mbit/s);
//   - the wait for a repair before asking again: at least the round trip's timeout, at
//     most MAX_REPAIR_WAIT_FACTOR × repairWaitMs;
//   - "lagged": even the longest backoff cannot make a band as long as that; then the
//     scheduler thins the first NAKs (thinnedOut) and lets a repair burst's packets come as
//     unevenly as the round trips do (burstSlackMs).

/** A band of the backoff is at least this many round-trip timeouts (round trip and four deviations). */
export const BAND_RTTS = 0.5;
/** The backoff grows to at most this many times nakBackoffMs. */
export const MAX_BACKOFF_FACTOR = 4;
/** The wait for a repair after a NAK grows to at most this many times repairWaitMs. */
export const MAX_REPAIR_WAIT_FACTOR = 8;
/** Lagged: of the receivers likely to share a need, about this many send their first NAK. */
export const THIN_TO_PEERS = 3;

export class FeedbackLag {
  /** Smoothed round trip and its mean deviation (undefined: none measured yet). */
  private rttMs: number | undefined;
  private rttVarMs = 0;

  constructor(private readonly cfg: { readonly nakBackoffMs: number; readonly repairWaitMs: number }) {}

  /** A first-pass repair round trip. */
  take(sampleMs: number): void {
    if (this.rttMs === undefined) {
      this.rttMs = sampleMs;
      this.rttVarMs = 0;
    } else {
      this.rttVarMs += (Math.abs(this.rttMs - sampleMs) - this.rttVarMs) / 4;
      this.rttMs += (sampleMs - this.rttMs) / 8;
    }
  }

  /** The round trip and four of its deviations (RFC 6298's timeout); undefined until measured. */
  rtoMs(): number | undefined {
    return this.rttMs === undefined ? undefined : this.rttMs + 4 * this.rttVarMs;
  }

  /** The backoff window for `bands` bands: nakBackoffMs, or longer when feedback comes late. */
  backoffMs(bands: number): number {
    const rto = this.rtoMs();
    if (rto === undefined) return this.cfg.nakBackoffMs;
    return Math.min(MAX_BACKOFF_FACTOR * this.cfg.nakBackoffMs, Math.max(this.cfg.nakBackoffMs, bands * BAND_RTTS * rto));
  }

  /** The wait for a repair before asking again: `waitMs` (from the repair round trip), or the timeout if that is longer. */
  repairWaitMs(waitMs: number): number {
    const rto = this.rtoMs();
    return rto === undefined ? waitMs : Math.max(waitMs, Math.min(MAX_REPAIR_WAIT_FACTOR * this.cfg.repairWaitMs, rto));
  }

  /** Even the longest backoff cannot give each of `bands` bands a round-trip timeout. */
  lagged(bands: number): boolean {
    const rto = this.rtoMs();
    return rto !== undefined && bands * BAND_RTTS * rto > MAX_BACKOFF_FACTOR * this.cfg.nakBackoffMs;
  }

  /** How unevenly a repair burst's packets come: four deviations of the round trip. */
  burstSlackMs(): number {
    return 4 * this.rttVarMs;
  }
}

/**
 * Lagged: whether a receiver, one of about `peers` likely to share its need, keeps its first
 * NAK back (uniform draw `u`), so that about THIN_TO_PEERS of them ask.
 */
export function thinnedOut(u: number, peers: number): boolean {
  return peers > THIN_TO_PEERS && u * peers >= THIN_TO_PEERS;
}
