// Automatic proactive parity (the default when no --fec was given): how many parity symbols
// each stripe of a slice gets ahead of any NAK, following the loss the receivers report.
//
// Every STATUS carries the receiver's loss since its first DATA (lossPpm). Two STATUS give
// the loss between them: the sender knows how many DATA the receiver's seenSeq spans (its
// count of DATA sent), so lossPpm times that span is the receiver's lost count, and the
// difference of two lost counts over the difference of two spans is the loss in between.
// Each receiver's estimate is a moving average of that, over about LOSS_HORIZON_PACKETS of
// DATA. The rack's figure is the worst estimate of the receivers the first pass waits for
// (active, not complete, not in the catch-up pass): one NAK round trip for any of them is
// a round trip for the slice.
//
// A slice gets its parity when its first pass begins (not when it is read: slices are read
// ahead): the smallest R per stripe of k blocks such that a receiver losing DATA at that
// rate misses more than R of the stripe's k + R datagrams with probability at most
// STRIPE_MISS_TARGET (binomial tail), capped at MAX_PARITY_SHARE of k. No loss reported:
// R = 0, so a clean network costs nothing; the first slices (before any STATUS) get none
// either, and rely on NAKs like every slice did before.
//
// What holds: per DATA nothing here runs; per STATUS O(1) (the worst is kept as it grows;
// when the worst receiver's estimate falls, or it stops counting, the worst is found again
// over the receivers at the next slice: at most once per slice). parityFor() is O(1) while
// the figure and k are those of the last call, else one binomial table of at most k + cap
// terms per candidate. Records are bounded by the receivers the sender admitted.

import { LOSS_PPM_ALL } from '../../protocol/messages/status.js';
import type { ReceiverRecord } from './participants.js';

/** A receiver's loss estimate averages over about this many DATA of its span. */
export const LOSS_HORIZON_PACKETS = 4096;
/** A stripe needs a NAK (a receiver at the rack's loss misses more than its parity) at most this often. */
export const STRIPE_MISS_TARGET = 0.05;
/** Parity per stripe at most this share of the stripe's data blocks (and 255 - k, GF(256)'s bound). */
export const MAX_PARITY_SHARE = 0.25;

interface LossRecord {
  readonly rcv: ReceiverRecord;
  /** DATA its seenSeq spanned at its last STATUS, and how many of them it had lost. */
  span: number;
  lost: number;
  /** Its recent loss share, 0..1. */
  estimate: number;
}

/** Whether the first pass waits for this receiver: only those count towards the rack's loss. */
function counts(r: ReceiverRecord): boolean {
  return r.state === 'active' && !r.complete && !r.catchUp;
}

/** P(X > r) for X ~ Binomial(n, p). */
export function binomialTailAbove(n: number, p: number, r: number): number {
  if (r >= n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  let term = (1 - p) ** n;
  let below = 0;
  for (let i = 0; i <= r; i++) {
    below += term;
    term *= ((n - i) / (i + 1)) * (p / (1 - p));
  }
  return Math.max(0, 1 - below);
}

/** Proactive parity for one stripe of k data blocks at loss share `loss`: see the top of this file. */
export function parityForLoss(k: number, loss: number): number {
  if (k <= 0 || !(loss > 0)) return 0;
  const cap = Math.min(255 - k, Math.ceil(k * MAX_PARITY_SHARE));
  for (let r = 0; r < cap; r++) if (binomialTailAbove(k + r, loss, r) <= STRIPE_MISS_TARGET) return r;
  return cap;
}

export class AutoParity {
  private readonly records = new Map<number, LossRecord>(); // bounded by the receivers admitted (cfg.maxReceivers)
  private worst = 0;
  private worstId = 0;
  /** The worst receiver's estimate fell, or it stopped counting: find it again. */
  private stale = false;
  private memoK = -1;
  private memoLoss = -1;
  private memoParity = 0;

  /** The rack's loss share as the next slice's parity is chosen from it (0 until a receiver reported loss). */
  get loss(): number {
    this.refresh();
    return this.worst;
  }

  /**
   * A STATUS from `rcv` (after the participants took it): `seenSpan` DATA from its first to
   * the one its seenSeq names (by the sender's count), `lossPpm` as it said.
   */
  status(rcv: ReceiverRecord, seenSpan: number, lossPpm: number): void {
    const lost = (Math.min(LOSS_PPM_ALL, lossPpm) / LOSS_PPM_ALL) * seenSpan;
    let rec = this.records.get(rcv.id);
    if (rec === undefined) {
      // The first report: its loss so far is all we know.
      rec = { rcv, span: seenSpan, lost, estimate: seenSpan > 0 ? lost / seenSpan : 0 };
      this.records.set(rcv.id, rec);
    } else {
      const dSpan = seenSpan - rec.span;
      if (dSpan <= 0) return;
      const sample = Math.max(0, Math.min(1, (lost - rec.lost) / dSpan));
      rec.estimate += (1 - Math.exp(-dSpan / LOSS_HORIZON_PACKETS)) * (sample - rec.estimate);
      rec.span = seenSpan;
      rec.lost = lost;
    }
    if (!counts(rcv)) return;
    if (rec.estimate >= this.worst) {
      this.worst = rec.estimate;
      this.worstId = rcv.id;
    } else if (rcv.id === this.worstId) {
      this.stale = true;
    }
  }

  /** Proactive parity for a stripe of k data blocks of the slice whose first pass begins now. */
  parityFor(k: number): number {
    this.refresh();
    if (k !== this.memoK || this.worst !== this.memoLoss) {
      this.memoK = k;
      this.memoLoss = this.worst;
      this.memoParity = parityForLoss(k, this.worst);
    }
    return this.memoParity;
  }

  private refresh(): void {
    const w = this.records.get(this.worstId);
    if (!this.stale && (w === undefined || counts(w.rcv))) return;
    this.stale = false;
    this.worst = 0;
    this.worstId = 0;
    for (const rec of this.records.values()) {
      if (counts(rec.rcv) && rec.estimate > this.worst) {
        this.worst = rec.estimate;
        this.worstId = rec.rcv.id;
      }
    }
  }
}
