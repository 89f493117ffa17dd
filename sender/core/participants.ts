// The receivers in the session: one record per receiver id, in join order, and what the
// sender knows of each (state, progress and when it moved, retries). Admission, progress
// from STATUS, outcomes from REPORT and LEAVE, retry counting in REQACK/END rounds, and the
// least progress over them that the flow window and slice retention follow.
//
// The least of that progress over the receivers still served, the catch-up set and a quiet
// session's credit for silence are kept in least-progress.ts, which this file tells of
// every change (served or not, progress, heard).
//
// What holds: at most maxReceivers records, never removed (the final table lists every
// receiver); a record leaves 'active' once, for good ('verified', 'failed', 'left',
// 'dropped'); seenSeq and deliveredSlices only grow. An active receiver that has not every
// slice is served (least-progress.ts), unless it is in the catch-up pass: then it is in the
// catch-up set. No other record is served or in the set.
// It sends nothing and emits no events: the core does both, from what these methods return.

import type { Endpoint } from '../../protocol/endpoint.js';
import { CAP_PARITY_REPAIR } from '../../protocol/header.js';
import type { CatchUpWhy } from '../../protocol/messages/catch-up.js';
import { HEARTBEAT_FLAG_CATCH_UP, type Heartbeat } from '../../protocol/messages/heartbeat.js';
import type { Join } from '../../protocol/messages/join.js';
import type { Leave } from '../../protocol/messages/leave.js';
import { Outcome, type Report } from '../../protocol/messages/report.js';
import { STATUS_FLAG_COMPLETE, type Status } from '../../protocol/messages/status.js';
import { Reason, reasonName } from '../../protocol/reasons.js';
import { seqDiff } from '../../protocol/seq.js';
import type { SenderConfig } from './config.js';
import { ReceiverHealth } from './health.js';
import { LeastProgress, type Served } from './least-progress.js';
import type { ImageEnd } from './transmit.js';

export type ReceiverState = 'active' | 'verified' | 'failed' | 'dropped' | 'left';

/** At most this many receivers are in the catch-up pass at once; the slow-node policy moves no more. */
export const MAX_CATCH_UP = 64;

/**
 * What the sender knows of one receiver. The progress fields and their times are what a
 * policy reading per-receiver rates can rely on: a receiver's own reports, never the group
 * credit (a silent receiver's fields move only when it speaks).
 */
export interface ReceiverRecord {
  readonly id: number;
  readonly address: string;
  /** The --hosts line it is, or undefined without --hosts. */
  readonly host: string | undefined;
  /** Where its JOIN came from: what answers it alone (ACCEPT, REPORT_ACK) goes there. */
  readonly endpoint: Endpoint;
  state: ReceiverState;
  reason: Reason;
  detail: string;
  rcvBufBytes: number;
  /** First slice it got live: 0, or for a late receiver (--streaming) the slice the first pass was at. */
  readonly joinSlice: number;
  /** DATA sent when it joined: the first it can read is the next (its STATUS's lossPpm spans from there). */
  readonly joinAbs: number;
  /** Highest DATA seq it reported reading (u32 as on the wire). */
  seenSeq: number;
  deliveredSlices: number;
  bytesWritten: number;
  /** When seenSeq, deliveredSlices and bytesWritten last grew (the sender's clock; the join time until then). */
  seenAtMs: number;
  deliveredAtMs: number;
  writtenAtMs: number;
  /** DATA lost per million, as its last STATUS said. */
  lossPpm: number;
  /** When the sender last heard it (any datagram). */
  heardAtMs: number;
  complete: boolean;
  /** REQACK/END rounds since this receiver last made progress (or, ending, was heard). */
  retries: number;
  heardSinceRound: boolean;
  progressSinceRound: boolean;
  /** Quiet session: the last probe round it answered (0: none). */
  answeredRound: number;
  /**
   * Not verified, but a receiver at the same address that joined later (late, with
   * --streaming: the node restarted) verified: its id. 0: not replaced.
   */
  replacedBy: number;
  /**
   * Served by the catch-up pass, not the first: it holds back neither the flow window nor
   * retention, and gets what it lacks after the first pass (a slow node the policy moved
   * there, or a late receiver whose sink takes the image only in order).
   */
  catchUp: boolean;
  /** Why it is in the catch-up pass, and since when (undefined: it is not). */
  catchUpWhy: CatchUpWhy | undefined;
  catchUpAtMs: number | undefined;
  /** When CATCHUP was last sent to it (it is repeated if it asks for repairs before END). */
  catchUpToldAtMs: number;
  /** When its JOIN was taken, and when it left 'active' (undefined: still active). */
  readonly joinedAtMs: number;
  resolvedAtMs: number | undefined;
  /** What its HEARTBEATs say: rates, loss, repair share, what limits it. */
  readonly health: ReceiverHealth;
}

/** A record and what least-progress.ts keeps on it (never shown outside this file and the core). */
interface Tracked extends ReceiverRecord, Served {}

export class Participants {
  private readonly records = new Map<number, Tracked>(); // bounded by cfg.maxReceivers
  private active = 0;
  private readonly progress = new LeastProgress<Tracked>(this.records);
  constructor(private readonly cfg: Readonly<Pick<SenderConfig, 'maxReceivers' | 'retriesUntilDrop' | 'blockBytes'>>) {}

  get size(): number {
    return this.records.size;
  }

  get(id: number): ReceiverRecord | undefined {
    return this.records.get(id);
  }

  /** Every record, in join order. */
  list(): ReceiverRecord[] {
    return [...this.records.values()];
  }

  activeCount(): number {
    return this.active;
  }

  /** Why a JOIN from an unknown id is refused, or undefined when it may join. */
  refusal(join: Join): Reason | undefined {
    // A receiver that cannot take parity repair is refused as such, not as "session full".
    if ((join.caps & CAP_PARITY_REPAIR) === 0) return Reason.Incompatible;
    return this.records.size >= this.cfg.maxReceivers ? Reason.SessionFull : undefined;
  }

  /**
   * A new receiver (of --hosts line `host`), having seen DATA up to `seenSeq` (`seenAbs`
   * as a count of DATA sent) and holding slices below `joinSlice`: its record.
   */
  add(join: Join, from: Endpoint, host: string | undefined, joinSlice: number, seenSeq: number, seenAbs: number, now: number): ReceiverRecord {
    const r: Tracked = {
      id: join.receiverId,
      address: from.address,
      host,
      endpoint: { address: from.address, port: from.port },
      state: 'active',
      reason: Reason.None,
      detail: '',
      rcvBufBytes: join.rcvBufBytes,
      joinSlice,
      joinAbs: seenAbs,
      seenSeq,
      deliveredSlices: joinSlice,
      bytesWritten: 0,
      seenAtMs: now,
      deliveredAtMs: now,
      writtenAtMs: now,
      lossPpm: 0,
      heardAtMs: now,
      complete: false,
      retries: 0,
      heardSinceRound: true,
      progressSinceRound: true,
      answeredRound: 0,
      replacedBy: 0,
      catchUp: false,
      catchUpWhy: undefined,
      catchUpAtMs: undefined,
      catchUpToldAtMs: -Infinity,
      joinedAtMs: now,
      resolvedAtMs: undefined,
      health: new ReceiverHealth(this.cfg.blockBytes),
      seenAbs,
      seqSlot: -1,
      slicesSlot: -1,
      credited: false,
      creditFromRound: Infinity,
      queueEpoch: 0,
    };
    this.records.set(r.id, r);
    this.active++;
    this.progress.serve(r);
    return r;
  }

  /** A datagram from an active receiver (any type) was heard at `now`. */
  heard(rcv: ReceiverRecord, now: number): void {
    const r = rcv as Tracked;
    r.heardAtMs = now;
    r.heardSinceRound = true;
    this.progress.heard(r);
  }

  /** `rcv` counts as having read every DATA sent so far (`lastSeq`, `lastAbs`: the last one's seq and count). */
  seenAllSent(rcv: ReceiverRecord, lastSeq: number, lastAbs: number): void {
    const r = rcv as Tracked;
    if (r.state !== 'active' || lastAbs <= r.seenAbs) return;
    r.seenSeq = lastSeq;
    r.seenAbs = lastAbs;
    this.progress.seenMoved(r);
  }

  /**
   * A STATUS: progress only counts forward and within what was sent (seq up to the last
   * DATA sent, `lastSeq` being its seq and `lastAbs` its count; slices below `nextSliceNo`),
   * so a stale or forged one cannot open the window.
   */
  status(rcv: ReceiverRecord, st: Status, lastSeq: number, lastAbs: number, nextSliceNo: number, now: number): void {
    const r = rcv as Tracked;
    if (r.state !== 'active') return;
    const behindLast = seqDiff(lastSeq, st.seenSeq);
    if (seqDiff(st.seenSeq, r.seenSeq) > 0 && behindLast >= 0 && lastAbs - behindLast > r.seenAbs) {
      r.seenSeq = st.seenSeq;
      r.seenAbs = lastAbs - behindLast;
      r.seenAtMs = now;
      r.progressSinceRound = true;
      this.progress.seenMoved(r);
    }
    this.delivered(r, st.deliveredSlices, nextSliceNo, now);
    if (st.bytesWritten > r.bytesWritten) {
      // Writing is progress too: a late receiver fetching the head reports it this way.
      r.bytesWritten = st.bytesWritten;
      r.writtenAtMs = now;
      r.progressSinceRound = true;
    }
    r.lossPpm = st.lossPpm;
    if ((st.flags & STATUS_FLAG_COMPLETE) !== 0 && !r.complete) {
      // It has every slice: it needs nothing more and stops reporting what it sees, so it
      // must not hold the others' window or repairs.
      r.complete = true;
      this.progress.unserve(r);
    }
    if (r.progressSinceRound) r.retries = 0;
  }

  /**
   * A HEARTBEAT: its figures, and what it wrote (progress, as in STATUS: a receiver whose
   * STATUS went astray but that keeps writing is alive).
   */
  heartbeat(rcv: ReceiverRecord, hb: Heartbeat, nextSliceNo: number, now: number): void {
    const r = rcv as Tracked;
    if (!r.health.take(hb, now) || r.state !== 'active') return;
    if (hb.bytesWritten > r.bytesWritten) {
      r.bytesWritten = hb.bytesWritten;
      r.writtenAtMs = now;
      r.progressSinceRound = true;
      r.retries = 0;
    }
    // A quiet session's receiver sends it instead of its STATUS heartbeat: in the first pass
    // it counts the slices delivered as STATUS does (in the catch-up pass, that pass's). In a
    // small session STATUS says it, as often.
    if (this.progress.quiet && (hb.flags & HEARTBEAT_FLAG_CATCH_UP) === 0) {
      this.delivered(r, hb.deliveredSlices, nextSliceNo, now);
      if (r.progressSinceRound) r.retries = 0;
    }
  }

  /** `rcv` says it delivered `slices` slices (counted forward only, and below `nextSliceNo`: never more than were sent). */
  private delivered(r: Tracked, slices: number, nextSliceNo: number, now: number): void {
    if (slices > r.deliveredSlices && slices <= nextSliceNo) {
      r.deliveredSlices = slices;
      r.deliveredAtMs = now;
      r.progressSinceRound = true;
      this.progress.slicesMoved(r);
    }
  }

  /**
   * A REPORT from an active receiver: verified only with the whole image (`end` known and
   * every byte written), else failed. Undefined when it was resolved already.
   */
  report(rcv: ReceiverRecord, rep: Report, end: ImageEnd | undefined, now: number): { ok: boolean; detail: string } | undefined {
    if (rcv.state !== 'active') return undefined;
    rcv.bytesWritten = rep.bytesWritten;
    if (rep.outcome === Outcome.Verified && end !== undefined && rep.bytesWritten === end.totalBytes) {
      this.resolve(rcv, 'verified', now);
      rcv.deliveredSlices = end.totalSlices;
      return { ok: true, detail: '' };
    }
    this.resolve(rcv, 'failed', now);
    rcv.reason = rep.outcome === Outcome.Verified ? Reason.SizeMismatch : rep.reason;
    rcv.detail = rep.detail || reasonName(rcv.reason);
    return { ok: false, detail: rcv.detail };
  }

  /** A LEAVE from an active receiver: its detail; undefined when it was resolved already. */
  leave(rcv: ReceiverRecord, leave: Leave, now: number): string | undefined {
    if (rcv.state !== 'active') return undefined;
    this.resolve(rcv, 'left', now);
    rcv.reason = leave.reason;
    rcv.detail = leave.detail || reasonName(leave.reason);
    return rcv.detail;
  }

  drop(rcv: ReceiverRecord, reason: Reason, detail: string, now: number): void {
    if (rcv.state === 'active') this.resolve(rcv, 'dropped', now);
    rcv.reason = reason;
    rcv.detail = detail;
  }

  /** The sender stops: every active receiver failed with `reason`. */
  failActive(reason: Reason, detail: string, now: number): void {
    for (const rcv of this.records.values()) {
      if (rcv.state === 'active') {
        this.resolve(rcv, 'failed', now);
        rcv.reason = reason;
        rcv.detail = detail;
      }
    }
  }

  // ---- quiet sessions: credit from probe rounds ------------------------------------

  get quiet(): boolean {
    return this.progress.quiet;
  }

  /** A quiet session from now (least-progress.ts: silence starts to count). */
  goQuiet(now: number): void {
    this.progress.goQuiet(now);
  }

  /** Probe round `round` is about to go out. */
  roundSent(round: number): void {
    this.progress.roundSent(round);
  }

  /** Probe round `round` ended with this credit (least-progress.ts). */
  credit(round: number, seenAbs: number, slices: number): void {
    this.progress.credit(round, seenAbs, slices);
  }

  /** Receivers silent for `liveMs` or longer stop being credited; returns how many. */
  expireSilent(now: number, liveMs: number): number {
    return this.progress.expireSilent(now, liveMs);
  }

  // ---- the least progress ----------------------------------------------------------

  /**
   * The least seenSeq, as an absolute count of DATA sent, over the receivers
   * still served (checked before every DATA); Infinity when none is. A receiver that has
   * every slice (verifying: fsync, or a late receiver reading its image back) needs nothing
   * more and is not served. One in the catch-up pass holds the flow window only once the
   * first pass is over (`catchUpFlows`): the catch-up pass is paced by the receivers it serves.
   */
  minSeenAbs(catchUpFlows: boolean): number {
    return this.progress.minSeenAbs(catchUpFlows);
  }

  /**
   * The least deliveredSlices over the receivers still served; Infinity when none is. One in
   * the catch-up pass never counts: it never holds retention (what it lacks is read again
   * from the source).
   */
  minDelivered(): number {
    return this.progress.minDelivered();
  }

  /** seenSeq of an active receiver as a count of DATA sent. */
  seenAbsOf(rcv: ReceiverRecord): number {
    return (rcv as Tracked).seenAbs;
  }

  /** The smallest socket buffer of the active receivers (Infinity without one). */
  minRcvBufBytes(): number {
    let minBuf = Infinity;
    for (const r of this.records.values()) if (r.state === 'active') minBuf = Math.min(minBuf, r.rcvBufBytes);
    return minBuf;
  }

  // ---- rounds ------------------------------------------------------------------------

  /**
   * An END round: a receiver with every slice is verifying, and being heard (its STATUS
   * heartbeat) is enough; one still missing slices must make progress, or it holds the end
   * hostage. In a quiet session a receiver still missing slices is known only if it
   * answered the last probe round (`lastRound`); any other must only have been heard
   * within `liveMs` (its NAKs, its heartbeat). Returns the receivers past the retry limit,
   * in join order, for the core to drop.
   */
  endRound(lastRound: number, now: number, liveMs: number): ReceiverRecord[] {
    const over: ReceiverRecord[] = [];
    for (const rcv of this.records.values()) {
      if (rcv.state !== 'active') continue;
      if (!this.progress.quiet) {
        this.countRetry(rcv, rcv.complete ? rcv.heardSinceRound : rcv.progressSinceRound, over);
      } else if (!rcv.complete && rcv.answeredRound >= lastRound && lastRound > 0) {
        this.countRetry(rcv, rcv.progressSinceRound, over);
      } else {
        // Silent by design (a heartbeat every so often): only a silence longer than the
        // heartbeat allows counts.
        this.countRetry(rcv, now - rcv.heardAtMs < liveMs, over);
      }
    }
    return over;
  }

  /**
   * A REQACK round: a receiver behind what the sender needs (DATA up to the count
   * `needAbs`, slices below `needSlices`) and without progress since the last round gets a
   * retry counted. In a quiet session only a receiver known to be behind counts: one that
   * answered the last probe round (`lastRound`) or is not credited; a credited one that
   * kept quiet is at least the group credit, and the next probe round will tell more.
   * Receivers in the catch-up pass are not waited for, so not counted. Returns the
   * receivers past the retry limit, in join order, for the core to drop, and the ids of
   * all that are behind (the ones the sender waits for: the slow-node policy's question).
   */
  reqackRound(needAbs: number, needSlices: number, lastRound: number): { over: ReceiverRecord[]; behind: Set<number> } {
    const over: ReceiverRecord[] = [];
    const behind = new Set<number>(); // bounded by the receivers
    for (const rcv of this.records.values()) {
      const r = rcv;
      if (r.state !== 'active' || r.complete || r.catchUp) continue;
      if (this.progress.quiet && r.credited && r.answeredRound < lastRound) {
        r.retries = 0;
        r.heardSinceRound = false;
        r.progressSinceRound = false;
        continue;
      }
      if (r.seenAbs < needAbs || r.deliveredSlices < needSlices) {
        behind.add(r.id);
        this.countRetry(r, r.progressSinceRound, over);
      }
    }
    return { over, behind };
  }

  /** The active receivers the first pass is for: not in the catch-up pass, not yet complete. */
  firstPassReceivers(): ReceiverRecord[] {
    const out: ReceiverRecord[] = [];
    for (const r of this.records.values()) if (r.state === 'active' && !r.catchUp && !r.complete) out.push(r);
    return out;
  }

  /** Room for another receiver in the catch-up pass (at most MAX_CATCH_UP at once). */
  catchUpHasRoom(): boolean {
    return this.progress.catchUpCount < MAX_CATCH_UP;
  }

  /** `rcv` goes to the catch-up pass at `now`, for `why`: out of the heaps, into the catch-up set. */
  moveToCatchUp(rcv: ReceiverRecord, why: CatchUpWhy, now: number): void {
    const r = rcv as Tracked;
    if (r.catchUp || r.state !== 'active') return;
    r.catchUp = true;
    r.catchUpWhy = why;
    r.catchUpAtMs = now;
    r.retries = 0;
    this.progress.toCatchUp(r);
  }

  private countRetry(rcv: ReceiverRecord, progressed: boolean, over: ReceiverRecord[]): void {
    if (progressed) {
      rcv.retries = 0;
    } else if (++rcv.retries > this.cfg.retriesUntilDrop) {
      over.push(rcv);
    }
    rcv.heardSinceRound = false;
    rcv.progressSinceRound = false;
  }

  /**
   * At the end: matches rejoins (below), then true when every receiver verified or was
   * replaced by one that did.
   */
  settle(): boolean {
    this.matchRejoins();
    let ok = true;
    for (const r of this.records.values()) if (r.state !== 'verified' && r.replacedBy === 0) ok = false;
    return ok;
  }

  /**
   * A node restarted mid-transfer rejoins (--streaming) under a new id: each late receiver
   * that verified replaces the earliest unverified record from its address that joined
   * before it, so the rack counts as imaged. The old record keeps its state and reason.
   */
  private matchRejoins(): void {
    const all = [...this.records.values()]; // in join order
    all.forEach((v, i) => {
      if (v.state !== 'verified' || v.joinSlice === 0) return;
      const old = all.slice(0, i).find((r) => r.address === v.address && r.state !== 'verified' && r.replacedBy === 0);
      if (old !== undefined) old.replacedBy = v.id;
    });
  }

  private resolve(rcv: ReceiverRecord, state: ReceiverState, now: number): void {
    const r = rcv as Tracked;
    if (r.state === 'active') this.active--;
    r.state = state;
    r.resolvedAtMs = now;
    this.progress.unserve(r);
  }
}
