// Automatic proactive parity (the default when no --fec was given): how many parity symbols
// each stripe of a slice gets ahead of any NAK, following the loss the receivers report.
//
// Every STATUS carries the receiver's loss since its first DATA (lossPpm). Two STATUS give
// the loss between them: the sender knows how many DATA the receiver's seenSeq spans (its
// count of DATA sent), so lossPpm times that span is the receiver's lost count, and the
// difference of two lost counts over the difference of two spans is the loss in between.
// HEARTBEAT gives the same from its own two counters (DATA sequence numbers seen, DATA
// read): in a quiet session (many receivers) STATUS may not come at all while the first
// pass runs, HEARTBEAT does, and without it the rack's loss would read 0 and no slice
// would get parity. Each receiver's estimate is a moving average of either, over about
// LOSS_HORIZON_PACKETS of DATA. The rack's figure is the worst estimate of the receivers
// the first pass waits for (active, not complete, not in the catch-up pass): one NAK round
// trip for any of them is a round trip for the slice.
//
// A slice gets its parity when its first pass begins (not when it is read: slices are read
// ahead): the smallest R per stripe of k blocks such that, of the n receivers the session
// has, any one losing DATA at that rate misses more than R of the stripe's k + R datagrams
// with probability at most the stripe miss target (binomial tail; each receiver's share of the
// target is 1 - (1 - target)^(1/n)), capped at MAX_PARITY_SHARE of k. The target is
// STRIPE_MISS_TARGET (5%) for a group larger than PRIOR_MIN_RECEIVERS,
// SMALL_GROUP_STRIPE_MISS_TARGET (25%) for a smaller one, whose NAKs are few and answered at
// once, and LONE_RECEIVER_STRIPE_MISS_TARGET (100%: no parity ahead) for one receiver, whose
// NAK asks for exactly the blocks it lost. A stripe that one
// receiver of many misses costs a NAK and a repair round trip as surely as with one
// receiver, and with n receivers one of them misses about n times as often: at 1% loss and
// 32 blocks, 1 parity per stripe holds one receiver's misses to 5% but 32 receivers' to
// about 73% (a NAK round for nearly every stripe), 3 to 5%. No loss reported:
// R = 0, so a clean network costs nothing. The first slices, before any receiver reported,
// get none in a small group (its STATUS come within a quarter window) and rely on NAKs; a
// group of more than PRIOR_MIN_RECEIVERS is quiet (sender/core/probe.ts) and its first
// figures come with the first HEARTBEATs, a fifth of a second or more into the transfer, so
// until then its slices get the parity for PRIOR_LOSS. In the simulator, 1,000 receivers at
// 1% loss sent 99 NAKs a slice for the 5 slices before the first HEARTBEAT, and none after.
//
// n is the session's active receivers (Participants.activeCount, O(1)), read at each slice.
//
// The binomial tail holds for independent loss; loss in bursts has a longer one, and with
// many receivers it is the worst burst of any of them that a stripe must cover. So the
// sender also watches what the parity achieved: once every receiver has a slice that got
// parity (it is freed), settled() learns how many NAKs receivers that heard its first pass
// still sent for it, and a factor on the rack's loss (boost, 1..BOOST_MAX) moves by
// MISS_STEP times (NAKs - target), the NAKs counted up to MISS_NAKS_MAX and the target
// being the share of slices the stripe miss target T allows to miss (1 - (1 - T)^stripes). It
// rests where the slices' NAKs average the target: at 1 where the tail is binomial and one
// NAK speaks for a missed slice, higher where bursts or many receivers asking at once make
// more. In the simulator, 1,000 receivers at 1% loss in bursts of 8 (4 stripes of 128)
// sent 1.15 NAKs a slice without it, where ten receivers sent 0.18.
//
// What holds: per DATA nothing here runs; per STATUS O(1) (the worst is kept as it grows;
// when the worst receiver's estimate falls, or it stops counting, the worst is found again
// over the receivers at the next slice: at most once per slice). parityFor() is O(1) while
// the figure and k are those of the last call, else one binomial table of at most k + cap
// terms per candidate (the figure, k or n changed). Records are bounded by the receivers the
// sender admitted.

import { LOSS_PPM_ALL } from '../../protocol/messages/status.js';
import type { ReceiverRecord } from './participants.js';

/** The log-step of the miss feedback per settled slice and NAK (see the top of this file). */
export const MISS_STEP = 0.1;
/** A slice's NAKs count up to this in the miss feedback: one slice moves the factor at most this far. */
export const MISS_NAKS_MAX = 4;
/** The most the miss feedback multiplies the rack's loss by. */
export const BOOST_MAX = 8;
/** A receiver's loss estimate averages over about this many DATA of its span. */
export const LOSS_HORIZON_PACKETS = 4096;
/** A stripe needs a NAK (some receiver at the rack's loss misses more than its parity) at most this often. */
export const STRIPE_MISS_TARGET = 0.05;
/**
 * ...in a group of 2 to PRIOR_MIN_RECEIVERS (they all report, and a NAK is answered within a
 * round trip): parity ahead is wire the link carries for every stripe, a NAK costs only the
 * stripes that missed. Chosen against 5% when one receiver still had this target too: one
 * receiver behind the lab's 1 Gbit/s cap, random 256 MiB, 3 pairs:
 * 5% loss 88.1 against 83.3 MB/s (medians), 1.14-1.15 wire bytes per image byte against
 * 1.19; 10% 82.1 against 77.6, 1.23-1.25 against 1.29. Four receivers (unthrottled, CPU-bound): no
 * difference seen.
 */
export const SMALL_GROUP_STRIPE_MISS_TARGET = 0.25;
/**
 * ...and for one receiver (or none): every stripe may miss, so no parity goes ahead. Its NAK
 * asks for exactly the blocks it lost and is answered while later slices are sent, so parity
 * ahead only spends wire on the blocks it did not lose. One receiver behind the lab's 1 Gbit/s
 * cap, random 256 MiB, 3 alternating runs against 25%: 5% loss 102.3-104.1 MB/s against
 * 99.0-101.6 (1.10 wire bytes per image byte against 1.14), 10% 95.3-98.7 against 86.4-94.6
 * (1.16, the least the loss allows, against 1.24); unthrottled within noise (10%: 180.7-189.9
 * against 178.4-187.8). With no parity ahead four receivers were slower unthrottled (medians
 * 78.6 against 84.7 MB/s at 5%, 68.4 against 76.2 at 10%) and eight behind the cap (35.0
 * against 40.6 at 10%): their NAKs cost the sender's and the receivers' CPU. So 25% stays
 * theirs.
 */
export const LONE_RECEIVER_STRIPE_MISS_TARGET = 1;

/** The stripe miss target for a group of `receivers`. */
export function stripeMissTarget(receivers: number): number {
  if (receivers <= 1) return LONE_RECEIVER_STRIPE_MISS_TARGET;
  return receivers > PRIOR_MIN_RECEIVERS ? STRIPE_MISS_TARGET : SMALL_GROUP_STRIPE_MISS_TARGET;
}
/** A group larger than this gets PRIOR_LOSS's parity until the first figure comes (a quiet session: more than the CLI's 8 reporting receivers). */
export const PRIOR_MIN_RECEIVERS = 8;
/**
 * The loss assumed until a receiver reports: 1%, what a rack's NAK storm at the start is
 * made of. At 1,000 receivers and 32-block stripes it is 4 parity a stripe (12.5%) for the
 * first fifth of a second; on a clean network the first HEARTBEATs then take it to 0.
 */
export const PRIOR_LOSS = 0.01;
/** Parity per stripe at most this share of the stripe's data blocks (and 255 - k, GF(256)'s bound). */
export const MAX_PARITY_SHARE = 0.25;

interface LossRecord {
  readonly rcv: ReceiverRecord;
  /** DATA its seenSeq spanned at its last STATUS, and how many of them it had lost (NaN: no STATUS yet). */
  span: number;
  lost: number;
  /** Its last HEARTBEAT's DATA sequence numbers seen and DATA read, both wrapping at 2^32 (NaN: none yet). */
  hbSent: number;
  hbRead: number;
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

/**
 * Proactive parity for one stripe of k data blocks at loss share `loss`, for `receivers`
 * receivers that each lose that much: see the top of this file.
 */
export function parityForLoss(k: number, loss: number, receivers = 1): number {
  if (k <= 0 || !(loss > 0)) return 0;
  const cap = Math.min(255 - k, Math.ceil(k * MAX_PARITY_SHARE));
  // 1 - (1 - T)^(1/n), without the cancellation 1 - x suffers for large n.
  const each = -Math.expm1(Math.log1p(-stripeMissTarget(receivers)) / Math.max(1, receivers));
  for (let r = 0; r < cap; r++) if (binomialTailAbove(k + r, loss, r) <= each) return r;
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
  private memoReceivers = -1;
  private memoParity = 0;
  /** The miss feedback's factor on the rack's loss (settled()). */
  private boostFactor = 1;

  /** `receivers`: how many receivers the session has now (each may miss a stripe). */
  constructor(private readonly receivers: () => number = () => 1) {}

  /** The rack's loss share as the next slice's parity is chosen from it (0 until a receiver reported loss; PRIOR_LOSS in a large group until one reported). */
  get loss(): number {
    this.refresh();
    if (this.records.size === 0 && this.receivers() > PRIOR_MIN_RECEIVERS) return PRIOR_LOSS;
    return this.worst;
  }

  /**
   * A STATUS from `rcv` (after the participants took it): `seenSpan` DATA from its first to
   * the one its seenSeq names (by the sender's count), `lossPpm` as it said.
   */
  status(rcv: ReceiverRecord, seenSpan: number, lossPpm: number): void {
    const lost = (Math.min(LOSS_PPM_ALL, lossPpm) / LOSS_PPM_ALL) * seenSpan;
    const rec = this.records.get(rcv.id);
    if (rec === undefined) {
      const r = this.first(rcv, seenSpan, lost);
      r.span = seenSpan;
      r.lost = lost;
      return;
    }
    if (!Number.isNaN(rec.span)) this.sample(rec, seenSpan - rec.span, lost - rec.lost);
    rec.span = seenSpan;
    rec.lost = lost;
  }

  /**
   * A HEARTBEAT from `rcv`: `packetsSent` DATA sequence numbers from the first it read to the
   * newest, `packetsRead` DATA it read (both u32, wrapping).
   */
  heartbeat(rcv: ReceiverRecord, packetsSent: number, packetsRead: number): void {
    let rec = this.records.get(rcv.id);
    if (rec === undefined) rec = this.first(rcv, packetsSent, packetsSent - packetsRead);
    else if (!Number.isNaN(rec.hbSent)) {
      const dSent = (packetsSent - rec.hbSent) >>> 0;
      this.sample(rec, dSent, dSent - ((packetsRead - rec.hbRead) >>> 0));
    }
    rec.hbSent = packetsSent;
    rec.hbRead = packetsRead;
  }

  /** A receiver's first report: its loss so far is all we know. */
  private first(rcv: ReceiverRecord, span: number, lost: number): LossRecord {
    const rec: LossRecord = {
      rcv,
      span: Number.NaN,
      lost: Number.NaN,
      hbSent: Number.NaN,
      hbRead: Number.NaN,
      estimate: span > 0 ? Math.max(0, Math.min(1, lost / span)) : 0,
    };
    this.records.set(rcv.id, rec);
    this.judge(rec);
    return rec;
  }

  /** `lost` of `span` DATA since its last report of the same kind. */
  private sample(rec: LossRecord, span: number, lost: number): void {
    if (span <= 0) return;
    const share = Math.max(0, Math.min(1, lost / span));
    rec.estimate += (1 - Math.exp(-span / LOSS_HORIZON_PACKETS)) * (share - rec.estimate);
    this.judge(rec);
  }

  /** Keeps the worst estimate of the receivers that count. */
  private judge(rec: LossRecord): void {
    if (!counts(rec.rcv)) return;
    if (rec.estimate >= this.worst) {
      this.worst = rec.estimate;
      this.worstId = rec.rcv.id;
    } else if (rec.rcv.id === this.worstId) {
      this.stale = true;
    }
  }

  /** The factor the miss feedback puts on the rack's loss now (1: the binomial tail held). */
  get boost(): number {
    return this.boostFactor;
  }

  /**
   * A slice that got parity is held by every receiver now: `naks`, what receivers that heard
   * its first pass sent for it; `stripes`, its stripes.
   */
  settled(naks: number, stripes: number): void {
    const target = 1 - (1 - stripeMissTarget(this.receivers())) ** Math.max(1, stripes);
    const step = MISS_STEP * (Math.min(naks, MISS_NAKS_MAX) - target);
    this.boostFactor = Math.min(BOOST_MAX, Math.max(1, this.boostFactor * Math.exp(step)));
  }

  /** Proactive parity for a stripe of k data blocks of the slice whose first pass begins now. */
  parityFor(k: number): number {
    const loss = Math.min(1, this.loss * this.boostFactor);
    const n = this.receivers();
    if (k !== this.memoK || loss !== this.memoLoss || n !== this.memoReceivers) {
      this.memoK = k;
      this.memoLoss = loss;
      this.memoReceivers = n;
      this.memoParity = parityForLoss(k, loss, n);
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
