// The catch-up pass (cfg.catchUp: the source can be read again): a receiver the slow-node
// policy finds too slow for the rack (judged in REQACK rounds, sender/core/rounds.ts) is
// told so (CATCHUP) and from then on holds back neither the flow window nor retention; it
// keeps what it can of the first pass, in order, and asks for nothing. Once the first pass
// is over (ending), it asks for the rest by NAK like a late receiver's head: slices re-read
// from the source (reload.ts), answered with their data blocks, paced by the flow window of
// the receivers still being served. With --streaming, a late receiver whose output takes
// the image only in order (JOIN's CAP_IN_ORDER) joins the catch-up pass at once and takes
// the whole image there (admission.ts).
//
// The slow-node policy: which receiver stops holding the first pass back and goes to the
// catch-up pass. A receiver goes when, for SLOW_HOLD_MS on end, it is one of those the
// sender waits for (behind in every REQACK round while the flow window or the slices kept
// are full) and what it could take is
//   - below SLOW_FRACTION of the median of what the other receivers still in the first pass
//     could take, or
//   - below --min-rate, when given and another receiver of the first pass keeps it.
// and its own pipeline is saturated: its sink held delivery back for SATURATED_SHARE of
// the window (or its CPU was busy CPU_SATURATED_SHARE of its last interval).
// "What it could take" is its capacity (sender/core/health.ts): the rate its sink wrote at
// over the share of the time its sink or CPU was busy. In lock-step every receiver writes
// at the slow node's pace, so rates alone cannot tell who is slow; but the others wait for
// data most of that time, the slow one never. A receiver held back by its network rather
// than its disk, decompressor or CPU keeps a high capacity and is not moved: its losses are
// repaired as before, and --retries-until-drop still applies to one that stops.
// The figures come from HEARTBEATs, over the last RATE_WINDOW_MS (2 s) of the receiver's
// own clock, counted from START and judged once they span MIN_SPAN_MS (the receivers send
// them three times as often early on: receiver/core/feedback.ts). That is the hysteresis:
// a healthy node whose disk stalls for a moment has a busy sink only for that moment, not
// for SATURATED_SHARE of two seconds, so a stall moves it only once it has lasted about
// 1.6 s, and SLOW_HOLD_MS more.
// A slow disk is found sooner, by what sets it apart from a stalled one: it keeps writing,
// slowly. When its sink was busy SATURATED_SHARE of the latest samples (RECENT_WINDOW_MS)
// and it wrote at a rate (bytes over that busy time) below the same pace, its capacity over
// the window being below it too (a CPU-bound node's rate over 300 ms swings widely: cpio
// receivers sharing two cores read 2-22 MB/s), it is slow now; DISK_HOLD_MS of that moves
// it. A stalled disk writes nothing, and one back from a stall writes at its own speed, so
// neither is moved this way. The whole window, which begins at
// START, would say it too late: while the page cache takes the first writes the sink is
// not busy, and in the lab the throttled disk's window share read 0.70-0.78 for 2.5 s.
// The last receiver of the first pass is never moved (someone must pace it), and nobody is
// moved after the first pass.
//
// What holds: SlowPolicy only reads the records and their health, and keeps one clock per
// receiver (since when it has been slow and behind), dropped when either stops; it decides,
// and CatchUpPass acts (sends CATCHUP, takes the receiver out of the window and retention,
// tells the driver). At most MAX_CATCH_UP receivers are in the pass (participants.ts).

import { CatchUpWhy } from '../../protocol/messages/catch-up.js';
import type { SenderConfig } from './config.js';
import type { SenderEvent } from './events.js';
import type { FlowWindow } from './flow.js';
import type { Participants, ReceiverRecord } from './participants.js';
import type { SenderStats } from './stats.js';
import type { Transmitter } from './transmit.js';

/** Below this share of the rack's median capacity a receiver is slow. */
export const SLOW_FRACTION = 0.5;
/** A receiver must be slow and behind this long, without a break, to be moved. */
export const SLOW_HOLD_MS = 500;
/** The same, when its latest samples show a sink busy all the time that still writes, slowly. */
export const DISK_HOLD_MS = 250;
/** Rates are judged only once they span this much of the receiver's time. */
export const MIN_SPAN_MS = 375;
/** A receiver's own pipeline is saturated when its sink held delivery back this share of the window (or of the latest samples). */
export const SATURATED_SHARE = 0.8;
/** ... or its CPU was busy this share of its last interval. */
const CPU_SATURATED_SHARE = 0.9;

export interface Demotion {
  readonly rcv: ReceiverRecord;
  readonly why: CatchUpWhy;
  /** What it could take (its capacity), and the pace it fell below, in bytes per second. */
  readonly rateBps: number;
  readonly paceBps: number;
  /** Found by its latest samples: a sink busy all the time that still writes, slowly (DISK_HOLD_MS). */
  readonly slowNow: boolean;
}

export class SlowPolicy {
  /** Per receiver id: since when it has been slow and behind. Bounded by the receivers. */
  private readonly slowSince = new Map<number, number>();

  constructor(private readonly cfg: Readonly<Pick<SenderConfig, 'catchUp' | 'minRateBytesPerSec'>>) {}

  /**
   * One REQACK round of the first pass. `live`: the active receivers still in it (not in
   * catch-up, not complete); `behind`: those of them the sender waits for now. Returns who
   * goes to the catch-up pass now, slowest first.
   */
  round(live: readonly ReceiverRecord[], behind: ReadonlySet<number>, now: number): Demotion[] {
    if (!this.cfg.catchUp) return [];
    const out: Demotion[] = [];
    for (const r of live) {
      const d = behind.has(r.id) ? this.judge(r, live) : undefined;
      if (d === undefined) {
        this.slowSince.delete(r.id);
        continue;
      }
      const since = this.slowSince.get(r.id);
      if (since === undefined) {
        this.slowSince.set(r.id, now);
        continue;
      }
      if (now - since >= (d.slowNow ? DISK_HOLD_MS : SLOW_HOLD_MS)) out.push(d);
    }
    out.sort((a, b) => a.rateBps - b.rateBps);
    // Someone stays to pace the first pass: the fastest of those judged slow, if need be.
    while (out.length > 0 && out.length >= live.length) out.pop();
    for (const d of out) this.slowSince.delete(d.rcv.id);
    return out;
  }

  /** Why `r` is slow now, or undefined when it is not (or its figures are too young to say). */
  private judge(r: ReceiverRecord, live: readonly ReceiverRecord[]): Demotion | undefined {
    const f = r.health.figures;
    const capacity = f.spanMs < MIN_SPAN_MS ? undefined : r.health.capacityBps();
    if (capacity === undefined) return undefined;
    // What its disk writes at now, when its sink was busy nearly all the latest samples and
    // still wrote (not a stall).
    const recentBusy = f.recentSinkBusyShare ?? 0;
    const diskBps = recentBusy >= SATURATED_SHARE && (f.recentRateBps ?? 0) > 0 ? (f.recentRateBps ?? 0) / recentBusy : undefined;
    // Else its own pipeline must be what holds it back, for most of the window (not a moment's stall).
    const saturated = (f.sinkBusyShare ?? 0) >= SATURATED_SHARE || (f.cpuShare ?? 0) >= CPU_SATURATED_SHARE;
    if (diskBps === undefined && !saturated) return undefined;
    const others: number[] = [];
    for (const o of live) {
      if (o === r || o.health.figures.spanMs < MIN_SPAN_MS) continue;
      const c = o.health.capacityBps();
      if (c !== undefined) others.push(c);
    }
    if (others.length === 0) return undefined;
    // Below --min-rate, when someone else keeps it (else moving it would only leave the
    // first pass to a receiver as slow); else below the rack's pace. Slow now and over the
    // window alike, or (the window's own saturation) over the window only.
    const min = this.cfg.minRateBytesPerSec;
    if (min !== undefined && others.some((c) => c >= min)) {
      const d = verdict(CatchUpWhy.BelowMinRate, min);
      if (d !== undefined) return d;
    }
    return verdict(CatchUpWhy.Slow, SLOW_FRACTION * median(others));

    function verdict(why: CatchUpWhy, pace: number): Demotion | undefined {
      if (capacity === undefined || capacity >= pace) return undefined;
      const slowNow = diskBps !== undefined && diskBps < pace;
      return slowNow || saturated ? { rcv: r, why, rateBps: capacity, paceBps: pace, slowNow } : undefined;
    }
  }
}

/**
 * The catch-up pass's moves: the slow-node policy's verdicts in each REQACK round, a late
 * receiver that takes the image only in order, CATCHUP told (and told again), and the pass
 * beginning for each receiver in it once the first pass is over.
 */
export class CatchUpPass {
  private readonly policy: SlowPolicy;

  constructor(
    private readonly cfg: Readonly<Pick<SenderConfig, 'catchUp' | 'minRateBytesPerSec' | 'endIntervalMs'>>,
    private readonly stats: SenderStats,
    private readonly participants: Participants,
    private readonly tx: Transmitter,
    private readonly flow: FlowWindow,
    private readonly events: SenderEvent[],
  ) {
    this.policy = new SlowPolicy(cfg);
  }

  /** One REQACK round of the first pass; `behind`: the receivers the sender waits for. */
  round(behind: ReadonlySet<number>, now: number): void {
    // Whoever holds the first pass back and is too slow for the rack goes to the catch-up
    // pass, while it has room (participants.ts: MAX_CATCH_UP); past that the rack keeps
    // their pace, as without a catch-up pass.
    for (const d of this.policy.round(this.participants.firstPassReceivers(), behind, now)) {
      if (!this.participants.catchUpHasRoom()) break;
      this.move(d.rcv, d.why, d.rateBps, d.paceBps, now, false);
    }
  }

  /**
   * `rcv` stops holding the first pass back and gets what it lacks in the catch-up pass;
   * `ending`: the first pass is over already, so the pass begins for it at once.
   */
  move(rcv: ReceiverRecord, why: CatchUpWhy, rateBps: number, paceBps: number, now: number, ending: boolean): void {
    this.participants.moveToCatchUp(rcv, why, now);
    this.stats.movedToCatchUp++;
    this.tell(rcv, rateBps, paceBps, now);
    this.events.push({ kind: 'movedToCatchUp', receiverId: rcv.id, why, rateBps, paceBps });
    if (ending) this.events.push({ kind: 'catchUpBegan', receiverId: rcv.id });
    // Retention it held back is free now.
    this.flow.freeDelivered();
  }

  /**
   * A NAK from a receiver of the catch-up pass while the first pass goes on: nothing is
   * repaired for it yet, so it did not hear (or forgot) that it is in the catch-up pass.
   * Told again, at most every endIntervalMs.
   */
  nakTooEarly(rcv: ReceiverRecord, now: number): void {
    this.stats.catchUpNaksIgnored++;
    if (now - rcv.catchUpToldAtMs >= this.cfg.endIntervalMs) this.tell(rcv, 0, 0, now);
  }

  /**
   * The first pass is over: the catch-up pass begins for every active receiver in it. From
   * now on they pace the flow window (flow.ts), counted from here: what the first pass sent
   * is no longer theirs to read (one the first pass outran left the data group and will not
   * say it saw it: receiver/core/passes.ts).
   */
  firstPassOver(): void {
    for (const r of this.participants.list()) {
      if (r.state !== 'active' || !r.catchUp) continue;
      this.participants.seenAllSent(r, this.tx.lastSeq, this.tx.sentCount);
      this.events.push({ kind: 'catchUpBegan', receiverId: r.id });
    }
  }

  /** CATCHUP to `rcv` (twice: it is cheap, and a lost one costs its NAKs until it is told again). */
  private tell(rcv: ReceiverRecord, rateBps: number, paceBps: number, now: number): void {
    for (let i = 0; i < 2; i++) this.tx.catchUp(rcv.id, rcv.catchUpWhy ?? CatchUpWhy.Slow, rateBps, paceBps);
    rcv.catchUpToldAtMs = now;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
