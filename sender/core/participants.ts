// The receivers in the session: one record per receiver id, in join order, and what the
// sender knows of each (state, progress, retries). Admission, progress from STATUS,
// outcomes from REPORT and LEAVE, retry counting in REQACK/END rounds, and the minimum
// progress over them that the flow window and slice retention follow.
//
// What holds: at most maxReceivers records, never removed (the final table lists every
// receiver); a record leaves 'active' once, for good ('verified', 'failed', 'left',
// 'dropped'); seenSeq and deliveredSlices only grow. It sends nothing and emits no
// events: the core does both, from what these methods return.

import { CAP_PARITY_REPAIR } from '../../protocol/header.js';
import type { Heartbeat } from '../../protocol/messages/heartbeat.js';
import type { Join } from '../../protocol/messages/join.js';
import type { Leave } from '../../protocol/messages/leave.js';
import type { CatchUpWhy } from '../../protocol/messages/catch-up.js';
import { Outcome, type Report } from '../../protocol/messages/report.js';
import { STATUS_FLAG_COMPLETE, type Status } from '../../protocol/messages/status.js';
import { Reason, reasonName } from '../../protocol/reasons.js';
import { seqDiff } from '../../protocol/seq.js';
import type { SenderConfig } from './config.js';
import { ReceiverHealth } from './health.js';
import type { ImageEnd } from './transmit.js';

export type ReceiverState = 'active' | 'verified' | 'failed' | 'dropped' | 'left';

export interface ReceiverRecord {
  readonly id: number;
  readonly address: string;
  /** The --hosts line it is, or undefined without --hosts. */
  readonly host: string | undefined;
  state: ReceiverState;
  reason: Reason;
  detail: string;
  rcvBufBytes: number;
  /** First slice it got live: 0, or for a late receiver (--streaming) the slice the first pass was at. */
  readonly joinSlice: number;
  seenSeq: number;
  deliveredSlices: number;
  bytesWritten: number;
  complete: boolean;
  /** REQACK/END rounds since this receiver last made progress (or, ending, was heard). */
  retries: number;
  heardSinceRound: boolean;
  progressSinceRound: boolean;
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

/** The least progress over the receivers the sender still serves. */
export interface MinProgress {
  readonly seen: number;
  readonly delivered: number;
}

export class Participants {
  private readonly records = new Map<number, ReceiverRecord>(); // bounded by cfg.maxReceivers

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
    let n = 0;
    for (const r of this.records.values()) if (r.state === 'active') n++;
    return n;
  }

  /** Why a JOIN from an unknown id is refused, or undefined when it may join. */
  refusal(join: Join): Reason | undefined {
    // A receiver that cannot take parity repair is refused as such, not as "session full".
    if ((join.caps & CAP_PARITY_REPAIR) === 0) return Reason.Incompatible;
    return this.records.size >= this.cfg.maxReceivers ? Reason.SessionFull : undefined;
  }

  /** A new receiver (of --hosts line `host`), having seen DATA up to `seenSeq` and holding slices below `joinSlice`. */
  add(join: Join, address: string, host: string | undefined, joinSlice: number, seenSeq: number, now: number): void {
    this.records.set(join.receiverId, {
      id: join.receiverId,
      address,
      host,
      state: 'active',
      reason: Reason.None,
      detail: '',
      rcvBufBytes: join.rcvBufBytes,
      joinSlice,
      seenSeq,
      deliveredSlices: joinSlice,
      bytesWritten: 0,
      complete: false,
      retries: 0,
      heardSinceRound: true,
      progressSinceRound: true,
      replacedBy: 0,
      catchUp: false,
      catchUpWhy: undefined,
      catchUpAtMs: undefined,
      catchUpToldAtMs: -Infinity,
      joinedAtMs: now,
      resolvedAtMs: undefined,
      health: new ReceiverHealth(this.cfg.blockBytes),
    });
  }

  /**
   * A STATUS: progress only counts forward and within what was sent (seq below `nextSeq`,
   * slices below `nextSliceNo`), so a stale or forged one cannot open the window.
   */
  status(rcv: ReceiverRecord, st: Status, nextSeq: number, nextSliceNo: number): void {
    if (rcv.state !== 'active') return;
    if (seqDiff(st.seenSeq, rcv.seenSeq) > 0 && seqDiff(st.seenSeq, nextSeq) < 0) {
      rcv.seenSeq = st.seenSeq;
      rcv.progressSinceRound = true;
    }
    if (st.deliveredSlices > rcv.deliveredSlices && st.deliveredSlices <= nextSliceNo) {
      rcv.deliveredSlices = st.deliveredSlices;
      rcv.progressSinceRound = true;
    }
    if (st.bytesWritten > rcv.bytesWritten) {
      // Writing is progress too: a late receiver fetching the head reports it this way.
      rcv.bytesWritten = st.bytesWritten;
      rcv.progressSinceRound = true;
    }
    if ((st.flags & STATUS_FLAG_COMPLETE) !== 0) rcv.complete = true;
    if (rcv.progressSinceRound) rcv.retries = 0;
  }

  /**
   * A HEARTBEAT: its figures, and what it wrote (progress, as in STATUS: a receiver whose
   * STATUS went astray but that keeps writing is alive).
   */
  heartbeat(rcv: ReceiverRecord, hb: Heartbeat, now: number): void {
    if (!rcv.health.take(hb, now) || rcv.state !== 'active') return;
    if (hb.bytesWritten > rcv.bytesWritten) {
      rcv.bytesWritten = hb.bytesWritten;
      rcv.progressSinceRound = true;
      rcv.retries = 0;
    }
  }

  /**
   * A REPORT from an active receiver: verified only with the whole image (`end` known and
   * every byte written), else failed. Undefined when it was resolved already.
   */
  report(rcv: ReceiverRecord, rep: Report, end: ImageEnd | undefined, now: number): { ok: boolean; detail: string } | undefined {
    if (rcv.state !== 'active') return undefined;
    rcv.bytesWritten = rep.bytesWritten;
    rcv.resolvedAtMs = now;
    if (rep.outcome === Outcome.Verified && end !== undefined && rep.bytesWritten === end.totalBytes) {
      rcv.state = 'verified';
      rcv.deliveredSlices = end.totalSlices;
      return { ok: true, detail: '' };
    }
    rcv.state = 'failed';
    rcv.reason = rep.outcome === Outcome.Verified ? Reason.SizeMismatch : rep.reason;
    rcv.detail = rep.detail || reasonName(rcv.reason);
    return { ok: false, detail: rcv.detail };
  }

  /** A LEAVE from an active receiver: its detail; undefined when it was resolved already. */
  leave(rcv: ReceiverRecord, leave: Leave, now: number): string | undefined {
    if (rcv.state !== 'active') return undefined;
    rcv.state = 'left';
    rcv.resolvedAtMs = now;
    rcv.reason = leave.reason;
    rcv.detail = leave.detail || reasonName(leave.reason);
    return rcv.detail;
  }

  drop(rcv: ReceiverRecord, reason: Reason, detail: string, now: number): void {
    rcv.state = 'dropped';
    rcv.resolvedAtMs = now;
    rcv.reason = reason;
    rcv.detail = detail;
  }

  /** The sender stops: every active receiver failed with `reason`. */
  failActive(reason: Reason, detail: string, now: number): void {
    for (const rcv of this.records.values()) {
      if (rcv.state === 'active') {
        rcv.state = 'failed';
        rcv.resolvedAtMs = now;
        rcv.reason = reason;
        rcv.detail = detail;
      }
    }
  }

  /**
   * An END round: a receiver with every slice is verifying, and being heard (its STATUS
   * heartbeat) is enough; one still missing slices must make progress, or it holds the end
   * hostage. Returns the receivers past the retry limit, in join order, for the core to drop.
   */
  endRound(): ReceiverRecord[] {
    const over: ReceiverRecord[] = [];
    for (const rcv of this.records.values()) {
      if (rcv.state !== 'active') continue;
      this.countRetry(rcv, rcv.complete ? rcv.heardSinceRound : rcv.progressSinceRound, over);
    }
    return over;
  }

  /**
   * A REQACK round: a receiver behind what the sender needs (DATA up to `needSeq`, slices
   * below `needSlices`) and without progress since the last round gets a retry counted.
   * Receivers in the catch-up pass are not waited for, so not counted. Returns the
   * receivers past the retry limit, in join order, for the core to drop, and the ids of
   * all that are behind (the ones the sender waits for: the slow-node policy's question).
   */
  reqackRound(needSeq: number, needSlices: number): { over: ReceiverRecord[]; behind: Set<number> } {
    const over: ReceiverRecord[] = [];
    const behind = new Set<number>(); // bounded by the receivers
    for (const rcv of this.records.values()) {
      if (rcv.state !== 'active' || rcv.catchUp) continue;
      if (seqDiff(rcv.seenSeq, needSeq) < 0 || rcv.deliveredSlices < needSlices) {
        behind.add(rcv.id);
        this.countRetry(rcv, rcv.progressSinceRound, over);
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

  /** `rcv` goes to the catch-up pass at `now`, for `why`. */
  moveToCatchUp(rcv: ReceiverRecord, why: CatchUpWhy, now: number): void {
    rcv.catchUp = true;
    rcv.catchUpWhy = why;
    rcv.catchUpAtMs = now;
    rcv.retries = 0;
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
   * The smallest seenSeq and deliveredSlices over receivers still in the session. One that
   * has every slice (verifying: fsync, or a late receiver reading its image back) needs
   * nothing more and stops reporting what it sees: it must not hold the others' repairs.
   * One in the catch-up pass never holds retention (what it lacks is read again from the
   * source), and holds the flow window only once the first pass is over (`catchUpFlows`):
   * the catch-up pass is paced by the receivers it serves.
   */
  minProgress(catchUpFlows: boolean): MinProgress | undefined {
    let seen: number | undefined;
    let delivered = Infinity;
    for (const r of this.records.values()) {
      if (r.state !== 'active' || r.complete) continue;
      if (r.catchUp && !catchUpFlows) continue;
      if (seen === undefined || seqDiff(r.seenSeq, seen) < 0) seen = r.seenSeq;
      if (!r.catchUp) delivered = Math.min(delivered, r.deliveredSlices);
    }
    return seen === undefined ? undefined : { seen, delivered };
  }

  /** The smallest socket buffer of the active receivers (Infinity without one). */
  minRcvBufBytes(): number {
    let minBuf = Infinity;
    for (const r of this.records.values()) if (r.state === 'active') minBuf = Math.min(minBuf, r.rcvBufBytes);
    return minBuf;
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
}
