// The NAK policy: when to ask the sender for the symbols a slice still lacks, and when to
// keep quiet. A slice becomes due once its first pass is over (a packet of a later slice,
// the LAST flag, a REQACK or END shows it). Its NAK then waits a random backoff, shorter
// for larger needs, so the largest need speaks first and the fresh parity it brings serves
// every receiver that heard it (NORM's random backoff and suppression, ordered by need).
// In a quiet session (many receivers) the order is finer: a band for each need up to 6,
// then a place that moves two bands earlier with each doubling of the need (up to 256),
// so that after a burst of loss the largest need still tends to speak first; and the
// place within a band is drawn so that of the receivers likely to share our need few go
// first (spreadByGroup, receiver/core/backoff.ts, over likelyPeers: not the whole group,
// for a large need is rare). That keeps the NAKs per slice near what ten receivers send:
// in the simulator, what is left is receivers that ask before the first NAK reaches them.
//
// When feedback comes late (a loaded machine: NAKs reach the others milliseconds after
// they went), the backoff and the wait for a repair follow the measured round trip
// (feedback-lag.ts); later still than the longest backoff can order, only a few of the
// receivers likely to share a need send their first NAK, and the rest wait for the repair
// as if silenced.
//
// The scheduler owns one timer per slice (SliceNak, kept on the slice so it lives and dies
// with it) and the set of armed ones; nextDeadlineMs() is the earliest of those, and the
// core's pollTimeout asks for nothing else about NAKs.
//
// In the catch-up pass (the sender moved us there, or we joined late and take the image in
// order) nothing is asked for while the first pass goes on ('waiting': slices become due
// but get no timer); once it is over ('fetching'), every due slice of the window is asked
// for at once, as in a late receiver's head pass, and the answers that flow hold our next
// requests back.

import { DATA_FLAG_LAST, DATA_FLAG_REPAIR, type DataHeader } from '../../protocol/messages/data.js';
import type { Nak } from '../../protocol/messages/nak.js';
import type { Assembly } from './assembly.js';
import { spreadByGroup } from './backoff.js';
import type { ReceiverConfig } from './config.js';
import { FeedbackLag, thinnedOut } from './feedback-lag.js';
import type { Session } from './session.js';
import { needOf, type RxSlice } from './slice.js';
import type { ReceiverStats } from './stats.js';

/**
 * --async: a slice is given up only once DATA from two slices later has arrived (the data
 * socket is FIFO, so its own packets are behind us) or the data socket has been quiet
 * this long (the tail of the image, when END came first on the control socket).
 */
const ASYNC_DRAIN_MS = 300;

/** Where a NAK goes out (feedback.ts encodes it and counts it), and what it knows of the group. */
export interface NakSender {
  sendNak(s: RxSlice): void;
  /** The session is quiet (many receivers): finer bands, spread by the group's size. */
  readonly quiet: boolean;
  readonly groupSize: number;
  /** DATA we lost per million, so far: how many others are likely to need as much as we do. */
  lossPpm(): number;
}

/** Backoff bands by need in a small session: >= 4, 3, 2, 1. */
const BANDS = 4;
/** A quiet session: a band per need up to this, then BANDS_PER_DOUBLING per doubling up to 256 (the most a stripe can need). */
const QUIET_LINEAR = 6;
const BANDS_PER_DOUBLING = 2;
/** 6 bands for needs 1..6, and about 10.8 for 6 → 256: 16.8 bands of about half a millisecond at the CLI's 8 ms. */
const QUIET_BANDS = QUIET_LINEAR + BANDS_PER_DOUBLING * Math.log2(256 / QUIET_LINEAR);
/**
 * Past QUIET_LINEAR the random share is a quarter of a band: needs 17 and 22 (a third of a
 * doubling apart) must not swap places, or the smaller speaks first and does not silence
 * the larger.
 */
const QUIET_LOG_SPREAD = 0.25;

/**
 * A slice asked for once waits this many gaps between DATA arrivals past the last repair
 * symbol before its one band: on a slow link the packets of a repair burst come further
 * apart than a band (0.4 ms a packet at 30 Mbit/s, a band is about 0.5 ms), and a receiver
 * that took a gap for the burst's end would ask again in the middle of it.
 */
const BURST_GAPS = 2;
/** The pace estimate moves 1/GAP_RISE of the way towards a longer gap (at once to a shorter one). */
const GAP_RISE = 64;

/**
 * A quiet session's place for a need >= 1, in bands from the start of the backoff: need 1
 * waits longest (QUIET_BANDS - 1), need 6 waits the log region's width, and every doubling
 * past 6 takes BANDS_PER_DOUBLING off, continuously (need 256 and more: 0).
 */
export function quietPlace(need: number): number {
  if (need <= QUIET_LINEAR) return QUIET_BANDS - need;
  return Math.max(0, QUIET_BANDS - QUIET_LINEAR - BANDS_PER_DOUBLING * Math.log2(need / QUIET_LINEAR));
}

/** Needs tracked one by one for likelyPeers; a larger one counts as this. */
const NEED_TRACKED = 64;

function needTotal(s: RxSlice): number {
  let need = 0;
  for (const st of s.stripes) need += Math.max(0, st.k - st.have);
  return need;
}

/**
 * Of `group` receivers that each lose blocks of a slice independently (`mean` of them on
 * average, Poisson), how many are likely to need `need` or more. At least 1.
 */
export function poissonPeers(group: number, need: number, mean: number): number {
  if (need <= 0 || group <= 1) return 1;
  // P(X >= need) = 1 - sum_{i < need} e^-mean mean^i / i!
  let term = Math.exp(-mean);
  let below = 0;
  for (let i = 0; i < need; i++) {
    below += term;
    term *= mean / (i + 1);
  }
  return Math.max(1, group * Math.max(0, 1 - below));
}

export class NakScheduler {
  /** Slices below this are due: their first pass is over. */
  private frontier = 0;
  /**
   * Slices below this were shown due by first-pass DATA itself (a later slice, or the LAST
   * flag): the data socket delivers in order, so nothing of them is still queued there.
   */
  private dataFrontier = 0;
  /** Highest slice seen in DATA, and when DATA last arrived: whether its packets may still be queued. */
  private dataSliceMax = -1;
  private lastDataAtMs = 0;
  /** The head pass or the catch-up pass: when a repair last arrived (the sender is still answering). */
  private lastHeadRepairAtMs = -Infinity;
  /** The catch-up pass: 'waiting' for the first pass to end (no NAKs), then 'fetching' what we lack. */
  private catchUp: 'no' | 'waiting' | 'fetching' = 'no';
  /**
   * From a NAK that covers a slice to the first repair for it (smoothed; undefined until
   * measured): after a NAK the next one for the slice waits a few of these, not all of
   * repairWaitMs. With many receivers some receiver loses a repair in nearly every slice,
   * and the time it takes to ask again is the tail of every slice.
   */
  private repairRttMs: number | undefined;
  /**
   * How late feedback comes (feedback-lag.ts): the same round trips, of first-pass slices
   * only (in a head or catch-up pass a repair queues behind a whole window of others, which
   * says nothing of how fast a NAK reaches the group).
   */
  private readonly lag: FeedbackLag;
  /**
   * The sender's pace: the time between two arrivals of DATA when it flows at full speed
   * (undefined until measured). It follows the shortest gaps at once and longer ones only
   * slowly (GAP_RISE), so pauses in the data (a sender waiting for its window, the tail of
   * the image) barely move it; arrivals at the same moment (one batch read) do not count.
   * A repair burst comes at that pace, so a shorter silence is not yet its end.
   */
  private dataGapMs: number | undefined;
  /**
   * Our own losses, slice by slice: dueWithNeed[k] slices had a need of at least k + 1 when
   * their first pass ended (needs past NEED_TRACKED count as NEED_TRACKED), of `frontier`
   * slices whose first pass ended. How many of the group are likely to need as much as we
   * do in a slice (likelyPeers) follows from it.
   */
  private readonly dueWithNeed = new Uint32Array(NEED_TRACKED);
  /**
   * Slices whose timer is set. One that completed, lost its timer or left the assembly is
   * dropped at the next nextDeadlineMs(), which fire() and pollTimeout call every turn.
   */
  private readonly armed = new Set<RxSlice>(); // bounded: the slices the assembly holds (holdSlices), and those it let go since the last turn

  constructor(
    private readonly cfg: Pick<ReceiverConfig, 'nakBackoffMs' | 'repairWaitMs' | 'random'>,
    private readonly session: Session,
    private readonly assembly: Assembly,
    private readonly sender: NakSender,
    private readonly stats: ReceiverStats,
  ) {
    this.lag = new FeedbackLag(cfg);
    stats.nakBackoffMs = cfg.nakBackoffMs;
  }

  /** Everything below slice n has had its first pass (REQACK, END, a late ACCEPT). */
  raiseFrontier(n: number): void {
    if (n > this.frontier) this.frontier = n;
  }

  /** In the catch-up pass (waiting or fetching). */
  get inCatchUp(): boolean {
    return this.catchUp !== 'no';
  }

  /** Waiting for the first pass to end before asking for anything. */
  get waiting(): boolean {
    return this.catchUp === 'waiting';
  }

  /** We are in the catch-up pass: no NAK until the first pass is over (fetch). Timers set now are dropped. */
  putOff(): void {
    if (this.catchUp !== 'no') return;
    this.catchUp = 'waiting';
    for (const s of this.assembly.held()) s.nak.atMs = undefined;
  }

  /** The first pass is over: ask for every due slice of the window now. */
  fetch(now: number): void {
    if (this.catchUp !== 'waiting') return;
    this.catchUp = 'fetching';
    for (const s of this.assembly.held()) if (s.nak.due && !s.complete) this.arm(s, now);
    this.markDue(now);
  }

  /** A DATA packet arrived (before the assembly takes it). */
  onData(d: DataHeader, now: number): void {
    if (d.sliceNo > this.dataSliceMax) this.dataSliceMax = d.sliceNo;
    const gap = now - this.lastDataAtMs;
    if (gap > 0) this.dataGapMs = this.dataGapMs === undefined || gap < this.dataGapMs ? gap : this.dataGapMs + (gap - this.dataGapMs) / GAP_RISE;
    this.lastDataAtMs = now;
    if ((d.flags & DATA_FLAG_REPAIR) === 0) {
      const n = (d.flags & DATA_FLAG_LAST) !== 0 ? d.sliceNo + 1 : d.sliceNo;
      this.raiseFrontier(n);
      if (n > this.dataFrontier) this.dataFrontier = n;
    }
  }

  /** The assembly took a symbol it lacked from DATA d into slice s. */
  onSymbol(s: RxSlice, d: DataHeader, now: number): void {
    if ((d.flags & DATA_FLAG_REPAIR) === 0 || this.catchUp === 'waiting') return;
    if (this.byRepair()) this.lastHeadRepairAtMs = now;
    if (s.nak.askedAtMs !== undefined) {
      const sample = now - s.nak.askedAtMs;
      this.repairRttMs = this.repairRttMs === undefined ? sample : (7 * this.repairRttMs + sample) / 8;
      if (!this.byRepair()) {
        this.lag.take(sample);
        this.stats.nakBackoffMs = this.backoffMs();
      }
      s.nak.askedAtMs = undefined;
    }
    // What others asked before this repair is being answered now.
    s.nak.othersNeed = undefined;
    if (s.nak.due && !s.complete) {
      // A repair burst is landing: ask again only a backoff after its last packet, with a
      // fresh random backoff so receivers that heard the same burst do not ask in step.
      // When feedback comes late, the burst's packets come as unevenly as the round trips
      // (four deviations of them).
      this.arm(s, this.lagged() ? now + this.lag.burstSlackMs() : now);
    }
  }

  /** Schedules a NAK for every due, incomplete slice that has none pending. */
  markDue(now: number): void {
    const asm = this.assembly;
    const p = asm.pass;
    const limit = Math.min(p.kind === 'head' ? p.joinSlice : this.frontier, asm.delivered + this.session.holdSlices);
    for (let n = asm.delivered; n < limit; n++) {
      const s = asm.heldOrAssumed(n);
      if (s === undefined) break;
      if (s.complete || s.nak.due) continue;
      s.nak.due = true;
      const need = Math.min(NEED_TRACKED, needTotal(s));
      for (let k = 0; k < need; k++) this.dueWithNeed[k]!++;
      if (this.catchUp !== 'waiting') this.arm(s, now);
    }
  }

  /**
   * Another receiver's NAK. The sender sizes each stripe's repair burst to the largest need
   * asked by a NAK that heard its last burst (sender/core/repair.ts), stripe by stripe, so the
   * NAKs heard this round serve us together when, in every stripe, one of them asked for at
   * least our need after hearing at least the burst we heard. With interleaved stripes no
   * single NAK tends to ask the most in every stripe (a burst of loss spreads over all of
   * them, differently for each receiver): in the simulator, 1,000 receivers with 1% loss in
   * bursts of 8 and the CLI's 8 stripes of 32 sent 25.6 NAKs a slice when one NAK had to
   * cover ours in every stripe, 15.2 with the aggregate.
   */
  onOtherNak(nak: Nak, now: number): void {
    const s = this.assembly.get(nak.sliceNo);
    if (s === undefined || s.complete || s.nak.atMs === undefined || !s.nak.due || this.catchUp === 'waiting') return;
    const mine = needOf(s);
    if (nak.need.length !== mine.length || nak.heard.length !== mine.length) return;
    const t = s.nak;
    if (t.othersNeed === undefined) {
      t.othersNeed = new Array<number>(mine.length).fill(0);
      t.othersHeard = new Array<number>(mine.length).fill(0);
    }
    const others = t.othersNeed;
    let covered = true;
    for (let i = 0; i < mine.length; i++) {
      const heard = s.stripes[i]!.heard;
      // A parity burst landed since: what was asked before it is answered.
      if (t.othersHeard[i] !== heard) {
        t.othersHeard[i] = heard;
        others[i] = 0;
      }
      // Only a request made after hearing at least the burst we heard makes the sender send
      // a new one (an older one may only top up its last burst).
      if (nak.heard[i]! >= heard && nak.need[i]! > others[i]!) others[i] = nak.need[i]!;
      if (others[i]! < mine[i]!) covered = false;
    }
    if (!covered) return;
    // In every stripe someone asked for at least as much: fresh parity serves us too.
    this.stats.naksSuppressed++;
    t.asked = true;
    t.askedAtMs ??= now;
    this.arm(s, now + this.repairWaitMs());
  }

  /** The backoff window: nakBackoffMs, or longer when feedback comes late (feedback-lag.ts). */
  private backoffMs(): number {
    // A small session keeps its configured timers: a few receivers send few NAKs however
    // late they come, and a slow VM's round trips (hundreds of ms) must not slow its repairs.
    return this.sender.quiet ? this.lag.backoffMs(QUIET_BANDS) : this.cfg.nakBackoffMs;
  }

  /**
   * How long to wait for the repair a NAK asked for before the backoff to ask again: three
   * measured round trips, at most repairWaitMs (all of it until one was measured). Asking
   * too early costs one NAK: the sender only tops up a burst that the NAK did not hear.
   */
  private repairWaitMs(): number {
    if (this.repairRttMs === undefined) return this.cfg.repairWaitMs;
    const wait = Math.min(this.cfg.repairWaitMs, Math.max(1, 3 * this.repairRttMs));
    // Late feedback: asking before the repair could have come only repeats the NAK.
    return this.sender.quiet ? this.lag.repairWaitMs(wait) : wait;
  }

  /** A quiet session whose feedback comes later than its longest backoff can order the bands by. */
  private lagged(): boolean {
    return this.sender.quiet && this.lag.lagged(QUIET_BANDS);
  }

  /**
   * Sends the NAKs whose time has come, in the order the slices were made. Returns why we
   * fail when --async leaves a slice we cannot rebuild (nothing can repair it).
   */
  fire(now: number): string | undefined {
    if (this.catchUp === 'waiting' || now < this.nextDeadlineMs()) return undefined;
    for (const s of this.assembly.held()) {
      const t = s.nak;
      if (t.atMs === undefined || now < t.atMs) continue;
      if (s.complete) {
        t.atMs = undefined;
        continue;
      }
      // Blocks still in flight when the timer was set may have landed since: a smaller
      // need waits for its own (later) band.
      const at = this.nakTime(s);
      if (at > now) {
        t.atMs = at;
        continue;
      }
      // END and REQACK (control socket) can overtake data still queued on the data
      // socket: wait until data two slices on has arrived, or the data socket has been
      // quiet a while (one backoff band; with --async, where a miss is final, longer). A
      // slice the data itself showed due needs no wait (but with --async, where a block
      // merely late in the network would be a failure). Waiting there would also release
      // every receiver's NAK for the slice at the same moment, and none would hear another.
      const drainMs = this.session.async ? ASYNC_DRAIN_MS : this.cfg.nakBackoffMs / 4;
      const shownByData = s.sliceNo < this.dataFrontier && !this.session.async;
      if (!shownByData && this.dataSliceMax < s.sliceNo + 2 && now < this.lastDataAtMs + drainMs) {
        t.atMs = this.lastDataAtMs + drainMs;
        continue;
      }
      if (this.byRepair() && t.naked && now < this.lastHeadRepairAtMs + this.cfg.repairWaitMs) {
        // The head pass asks for a whole window at once, and the answers come one slice
        // after the other: while they flow, ours is queued behind them. Asking again
        // would only repeat it (the sender ignores a request for blocks already queued).
        t.atMs = this.lastHeadRepairAtMs + this.cfg.repairWaitMs;
        continue;
      }
      if (this.session.async && this.session.morePasses) {
        // A carousel sends the image again: the slice waits for the next pass (no timer
        // until the last pass begins, see lastPassBegan).
        t.atMs = undefined;
        this.stats.slicesPutOff++;
        continue;
      }
      if (this.session.async) {
        // Its first pass is over and no repair can come: fail now, naming what is missing.
        const st = s.stripes.findIndex((x) => x.have < x.k);
        const x = s.stripes[st]!;
        return `slice ${s.sliceNo} cannot be rebuilt: stripe ${st} has ${x.have} of ${x.k} symbols (--async, no repair)`;
      }
      if (!t.asked && this.lagged() && thinnedOut(this.cfg.random(), this.likelyPeers(s, needTotal(s)))) {
        // The NAK we count on may come as late as the end of the others' backoff; its
        // repair a round trip after that. The round trip is timed from the NAK we hear.
        this.stats.naksThinned++;
        t.asked = true;
        t.askedAtMs = undefined;
        this.arm(s, now + this.backoffMs() + this.repairWaitMs());
        continue;
      }
      this.sender.sendNak(s);
      t.othersNeed = undefined;
      t.naked = true;
      t.asked = true;
      t.askedAtMs = now;
      this.arm(s, now + this.repairWaitMs());
    }
    return undefined;
  }

  /**
   * --async, a carousel's last pass began: every due slice still incomplete (put off to a
   * later pass) gets its timer again, to be judged once this pass has gone by it.
   */
  lastPassBegan(now: number): void {
    // What the earlier pass sent says nothing about where this one is: a slice is judged
    // only once this pass's DATA has gone two slices past it (or the data went quiet).
    this.dataSliceMax = -1;
    this.lastDataAtMs = now;
    for (const s of this.assembly.held()) if (s.nak.due && !s.complete && s.nak.atMs === undefined) this.arm(s, now);
  }

  /** Every slice comes by repair: a late receiver's head pass, or the catch-up pass once fetching. */
  private byRepair(): boolean {
    return this.assembly.pass.kind === 'head' || this.catchUp === 'fetching';
  }

  /** The earliest NAK timer (Infinity: none). */
  nextDeadlineMs(): number {
    let next = Infinity;
    for (const s of this.armed) {
      const at = s.nak.atMs;
      if (at === undefined || s.complete || this.assembly.get(s.sliceNo) !== s) {
        this.armed.delete(s);
        continue;
      }
      if (at < next) next = at;
    }
    return next;
  }

  private arm(s: RxSlice, baseMs: number): void {
    s.nak.baseMs = baseMs;
    s.nak.rand = this.cfg.random();
    s.nak.atMs = this.nakTime(s);
    this.armed.add(s);
  }

  /**
   * Larger needs speak first, so one NAK sized to the largest request silences the rest.
   * The backoff window is cut into four bands by need (>= 4, 3, 2, 1 symbols); within
   * a band the time is random, so of many equal needs the first heard wins (NORM's
   * random backoff, ordered by need so that suppression works in one step). A quiet
   * session has QUIET_BANDS bands (quietPlace), and its random share comes from
   * spreadByGroup over the receivers likely to share our need (likelyPeers). There, a
   * slice asked for once already waits one band only (after BURST_GAPS of the sender's
   * pace, so that a repair burst on a slow link has ended): the receivers asking again are
   * the few that lost the repair, and with many receivers a few lose it in nearly every
   * slice, so their wait is the tail of every slice.
   */
  /**
   * How many receivers of the group are likely to need as much as we do in this slice:
   * those that draw their NAK in the same band. The more of the group lost as much, the
   * later in the band each draws (spreadByGroup), so that few go before the first is
   * heard; but a large need is rare, and the few that share it, squeezed into the end of
   * the band as if they were the whole group, would all go within one latency of each
   * other. The larger of two estimates: independent loss at our own loss rate
   * (poissonPeers), and the share of our own slices that needed as much (loss in bursts,
   * where many share a need of one burst). Our own slice is not counted in the share.
   */
  private likelyPeers(s: RxSlice, need: number): number {
    const group = this.sender.groupSize;
    if (need <= 0) return group;
    let blocks = 0;
    for (const st of s.stripes) blocks += st.k;
    const modelled = poissonPeers(group, need, (blocks * this.sender.lossPpm()) / 1e6);
    const seen = this.frontier > 0 ? (group * Math.max(0, this.dueWithNeed[Math.min(NEED_TRACKED, need) - 1]! - 1)) / this.frontier : 0;
    return Math.max(modelled, seen);
  }

  private nakTime(s: RxSlice): number {
    let need = 0;
    for (const st of s.stripes) need += Math.max(0, st.k - st.have);
    if (this.sender.quiet) {
      const spread = spreadByGroup(s.nak.rand, this.likelyPeers(s, need));
      if (s.nak.asked) return s.nak.baseMs + BURST_GAPS * (this.dataGapMs ?? 0) + (this.backoffMs() * spread) / QUIET_BANDS;
      const place = quietPlace(Math.max(1, need)) + (need > QUIET_LINEAR ? QUIET_LOG_SPREAD * spread : spread);
      return s.nak.baseMs + (this.backoffMs() * place) / QUIET_BANDS;
    }
    const band = need >= BANDS ? 0 : BANDS - Math.max(1, need);
    return s.nak.baseMs + (this.backoffMs() * (band + s.nak.rand)) / BANDS;
  }
}
