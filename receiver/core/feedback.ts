// What the receiver says, and the clocks for it: JOIN until the sender answers with our
// ACCEPT, STATUS (how far we delivered and wrote, the newest DATA sequence number we saw:
// the sender's flow window follows it), HEARTBEAT (how we are doing: rates, loss, what
// limits us; at a low rate, for the sender's table and slow-node policy), NAKs (the
// scheduler decides when; this encodes them), LEAVE and REPORT. NAKs go to the rendezvous
// group, where the other receivers hear them and keep quiet; everything else goes to the
// sender alone (its control endpoint), so no receiver spends anything on another's STATUS
// or HEARTBEAT. Everything goes to the core's outgoing queue. With --async the receiver
// has no return channel and sends nothing.
//
// Two clocks share the word "heartbeat" and are not the same thing: the HEARTBEAT message
// (heartbeatAtMs, every heartbeatIntervalMs of our config, stretched with the group) and,
// in a quiet session, the STATUS that goes out at least every heartbeatMs a REQACK names
// (quietStatusEveryMs here; the sender stretches that one with the group).
//
// When STATUS goes out depends on the session (docs/ARCHITECTURE.md, "How feedback
// scales"). In a small one: each quarter of the sender's flow window read and of its
// retention delivered, at once in answer to a REQACK we are behind on, and every
// statusIntervalMs. Once a REQACK with REQACK_FLAG_QUIET is heard the session is quiet:
// we answer a REQACK only if we are behind its thresholds, after a random wait within its
// answer window (the further behind, the sooner), and not at all if a later copy of it
// shows that someone worse already answered; once our answer went, and while REQACKs
// find us behind, we are "limiting" and report each quarter as in a small session;
// otherwise we keep silent but for a STATUS at least every heartbeatMs the REQACK names,
// and a HEARTBEAT message that goes stands for that STATUS (the sender takes the slices it
// says we delivered).

import { groupIntervalMs, MS_PER_RECEIVER } from '../../common/feedback-interval.js';
import { CAP_IN_ORDER, CAP_PARITY_REPAIR } from '../../protocol/header.js';
import { DIGEST_BYTES } from '../../protocol/messages/end.js';
import { encodeHeartbeat, HEARTBEAT_FLAG_CATCH_UP, HEARTBEAT_SIZE } from '../../protocol/messages/heartbeat.js';
import { encodeJoin, JOIN_SIZE } from '../../protocol/messages/join.js';
import { encodeLeave, leaveLength } from '../../protocol/messages/leave.js';
import { encodeNak, nakLength } from '../../protocol/messages/nak.js';
import { encodeReport, Outcome, reportLength } from '../../protocol/messages/report.js';
import { REQACK_FLAG_QUIET, type Reqack } from '../../protocol/messages/reqack.js';
import { encodeStatus, LOSS_PPM_ALL, STATUS_FLAG_COMPLETE, STATUS_FLAG_REPLY, STATUS_SIZE } from '../../protocol/messages/status.js';
import type { Reason } from '../../protocol/reasons.js';
import { seqDiff } from '../../protocol/seq.js';
import type { Assembly, SinkProgress } from './assembly.js';
import { spreadByGroup } from './backoff.js';
import type { ReceiverConfig } from './config.js';
import type { ReceiverTransmit } from './events.js';
import type { HeartbeatFigures } from './load.js';
import type { Session } from './session.js';
import { needOf, type RxSlice } from './slice.js';
import type { ReceiverStats } from './stats.js';

/** HEARTBEATs sent at the early pace once the transfer begins (about two intervals' worth). */
export const EARLY_HEARTBEATS = 6;
/**
 * Early HEARTBEATs of the whole group, about: each of N receivers sends ceil(EARLY_GROUP / N)
 * of them, at most EARLY_HEARTBEATS (so fewer from 10 receivers on) and at least EARLY_MIN,
 * so the early burst the sender hears stays about flat with the group. Each early one goes
 * at a third of an interval that itself grows with the group: at 32 receivers six each were
 * 192 HEARTBEATs over 4 s, where 4 receivers sent 24 over half a second.
 */
export const EARLY_GROUP = 48;
/** Early HEARTBEATs each receiver sends at least: two, so the sender has a rate early (it divides the difference of two). */
export const EARLY_MIN = 2;

/** How many early HEARTBEATs each of `receivers` sends. */
export function earlyHeartbeats(receivers: number): number {
  return Math.max(EARLY_MIN, Math.min(EARLY_HEARTBEATS, Math.ceil(EARLY_GROUP / Math.max(1, receivers))));
}
/** How many times as often as later the early HEARTBEATs go. */
export const EARLY_DIVISOR = 3;

export class Feedback {
  /**
   * Our JOIN was answered (from the start with --async, where nobody joins). The answer
   * may come after the data has begun: the sender counted us and our ACCEPT was lost.
   */
  private answered: boolean;
  /** The sender's flow window in packets (START); a STATUS goes out every quarter of it. */
  private window = 64;
  private seenSeq = 0;
  /** The first DATA seq read (undefined: none yet) and DATA read since: STATUS's lossPpm. */
  private firstSeq: number | undefined;
  private dataRead = 0;
  private statusSeq = 0; // seenSeq at our last STATUS
  private statusDelivered = 0; // the assembly's delivered count at our last STATUS
  private joinAtMs: number;
  /** Set by our ACCEPT, or by the data beginning before it; nothing reads it earlier. */
  private statusAtMs: number;
  /** The next HEARTBEAT message: set with the STATUS clock (from our ACCEPT on), Infinity before and with --async. */
  private heartbeatAtMs = Infinity;
  /** Receivers in the session, as START said: the HEARTBEAT interval grows with them. */
  private receivers = 1;
  /** HEARTBEATs still to go at the early pace (EARLY_HEARTBEATS from when the transfer began). */
  private earlyHeartbeats = 0;
  /** JOIN says CAP_IN_ORDER: we are late and take the image only in order (the catch-up pass). */
  private inOrder = false;
  /** A quiet session (a REQACK said so): silent unless behind, and a STATUS every quietStatusEveryMs. */
  private quietSession = false;
  /** Quiet session: the REQACK's heartbeatMs, the longest we keep STATUS back (not the HEARTBEAT message's clock). */
  private quietStatusEveryMs = 0;
  private group = 1;
  /** Quiet: our answer to a REQACK went (we were the worst heard); we report as we go until a REQACK finds us not behind. */
  private limitingNow = false;
  /** Quiet: an answer waits until then, naming answerId (undefined: none waits). */
  private answerAtMs: number | undefined;
  private answerId = 0;
  /** In the catch-up pass: the sender paces it by what we report, so we report as we go. */
  private pacesCatchUp = false;

  constructor(
    private readonly cfg: Pick<ReceiverConfig, 'receiverId' | 'rcvBufBytes' | 'joinIntervalMs' | 'statusIntervalMs' | 'heartbeatIntervalMs' | 'random'>,
    private readonly session: Session,
    private readonly assembly: Assembly,
    private readonly sink: SinkProgress,
    private readonly out: ReceiverTransmit[],
    private readonly stats: ReceiverStats,
    now: number,
  ) {
    this.answered = session.async;
    this.joinAtMs = now;
    this.statusAtMs = session.async ? Infinity : 0;
  }

  get accepted(): boolean {
    return this.answered;
  }

  get windowPackets(): number {
    return this.window;
  }

  /** When the next JOIN is due (while we repeat it). */
  get nextJoinAtMs(): number {
    return this.joinAtMs;
  }

  /** When the next STATUS heartbeat is due. */
  get nextStatusAtMs(): number {
    return this.statusAtMs;
  }

  /** Our JOINs say we take the image only in order (late, for the catch-up pass). */
  joinInOrder(): void {
    this.inOrder = true;
  }

  /** Quiet session: when our answer to a REQACK is due (Infinity: none waits). */
  get nextAnswerAtMs(): number {
    return this.answerAtMs ?? Infinity;
  }

  /** A REQACK said the session is quiet. */
  get quiet(): boolean {
    return this.quietSession;
  }

  /** Receivers in the session, as the last REQACK said (1 until one did): it scales random waits. */
  get groupSize(): number {
    return this.group;
  }

  /**
   * A small session, a quiet one whose last REQACK found us behind, or we are in the
   * catch-up pass (once the first pass is over, it goes at our pace): we report as we go.
   */
  get reportsProgress(): boolean {
    return !this.quietSession || this.limitingNow || this.pacesCatchUp;
  }

  /** We are in the catch-up pass: from now on we report as we go, even in a quiet session. */
  reportAsWeGo(): void {
    this.pacesCatchUp = true;
  }

  /** When the next HEARTBEAT is due (Infinity: none, before our ACCEPT and with --async). */
  get nextHeartbeatAtMs(): number {
    return this.heartbeatAtMs;
  }

  /** START (or a repeat of it) named the sender's window and how many receivers it took. */
  setWindow(windowPackets: number, receivers: number): void {
    this.window = windowPackets;
    this.receivers = Math.max(1, receivers);
  }

  /** Our ACCEPT arrived: JOIN stops, and the STATUS and HEARTBEAT clocks count from now. */
  onAccepted(now: number): void {
    this.answered = true;
    this.statusAtMs = now + this.cfg.statusIntervalMs;
    if (this.heartbeatAtMs === Infinity) this.heartbeatAtMs = now + this.cfg.heartbeatIntervalMs;
  }

  /**
   * The transfer began (START, or the first DATA): the next EARLY_HEARTBEATS go EARLY_DIVISOR
   * times as often, so that the sender, which counts our rates from START, has figures to
   * judge the rack's pace by (sender/core/slow-policy.ts) within about an interval instead
   * of three: until then a slow node holds every other one back.
   */
  onTransferBegan(now: number): void {
    this.earlyHeartbeats = earlyHeartbeats(this.receivers);
    if (this.heartbeatAtMs !== Infinity) this.heartbeatAtMs = Math.min(this.heartbeatAtMs, now + this.heartbeatIntervalMs());
  }

  /**
   * The interval to the next HEARTBEAT: the configured one stretched with the group, shorter
   * early in the transfer, but never below MS_PER_RECEIVER per receiver (what the sender
   * hears a second stays bounded at any size: past a thousand receivers, no early pace).
   */
  private heartbeatIntervalMs(): number {
    const ms = groupIntervalMs(this.cfg.heartbeatIntervalMs, this.receivers);
    return this.earlyHeartbeats > 0 ? Math.max(ms / EARLY_DIVISOR, this.receivers * MS_PER_RECEIVER) : ms;
  }

  /** The data began before our ACCEPT: STATUS goes out on the JOIN clock until it comes. */
  onStartedUnanswered(): void {
    this.statusAtMs = this.joinAtMs;
  }

  /**
   * How we are doing, from the core's LoadMeter snapshot; the next one is due an interval
   * on: heartbeatIntervalMs, stretched with the receivers in the session (groupIntervalMs,
   * common/feedback-interval.ts) so the sender hears about as many a second at any size.
   */
  sendHeartbeat(x: HeartbeatFigures, catchUp: boolean, now: number): void {
    this.heartbeatAtMs = now + this.heartbeatIntervalMs();
    if (this.earlyHeartbeats > 0) this.earlyHeartbeats--;
    if (this.session.async) return;
    // A quiet session's STATUS heartbeat only says we are alive and how far we delivered:
    // this HEARTBEAT says both (the sender takes its deliveredSlices, as from a STATUS), so
    // the STATUS waits another full period. With the default intervals the HEARTBEAT comes at
    // least as often, and a silent receiver sends one datagram a period, not two.
    if (!this.reportsProgress) this.statusAtMs = Math.max(this.statusAtMs, now + this.quietStatusEveryMs);
    const buf = new Uint8Array(HEARTBEAT_SIZE);
    encodeHeartbeat(
      {
        sessionId: this.session.sessionId,
        receiverId: this.cfg.receiverId,
        limit: x.limit,
        flags: catchUp ? HEARTBEAT_FLAG_CATCH_UP : 0,
        cpuPermille: x.cpuPermille,
        elapsedMs: x.elapsedMs,
        bytesWritten: this.sink.bytesWritten,
        outputBytes: x.outputBytes,
        sinkBusyMs: x.sinkBusyMs,
        outputBusyMs: x.outputBusyMs,
        packetsRead: x.packetsRead,
        packetsSent: x.packetsSent,
        repairedBlocks: (this.stats.decodedBlocks + this.stats.resentBlocks) >>> 0,
        deliveredSlices: this.assembly.delivered,
      },
      buf,
    );
    this.toSender(buf);
    this.stats.heartbeatsSent++;
  }

  /** Delivery moved to another pass (late join): the quarter-of-retention rule counts from `delivered`. */
  restartDeliveredCount(delivered: number): void {
    this.statusDelivered = delivered;
  }

  /** A DATA packet's sequence number: STATUS tells the sender the newest we saw. */
  onSeq(seq: number): void {
    if (this.firstSeq === undefined) this.firstSeq = seq;
    this.dataRead++;
    if (seqDiff(seq, this.seenSeq) > 0) this.seenSeq = seq;
  }

  /**
   * The first DATA `seq` since we joined the data group again: the DATA between the newest
   * we saw before and it went by while we were not listening. Counted as read (lossPpm is
   * what the network lost), and returned.
   */
  skipUnheard(seq: number): number {
    if (this.firstSeq === undefined) return 0;
    const unheard = Math.max(0, seqDiff(seq, this.seenSeq) - 1);
    this.dataRead += unheard;
    return unheard;
  }

  /**
   * DATA lost per million over the sequence numbers from the first DATA read to the newest.
   * Duplicates count as read, so a network that duplicates hides as much loss.
   */
  lossPpm(): number {
    if (this.firstSeq === undefined) return 0;
    const spanned = seqDiff(this.seenSeq, this.firstSeq) + 1;
    if (spanned <= 0 || this.dataRead >= spanned) return 0;
    return Math.min(LOSS_PPM_ALL, Math.round(((spanned - this.dataRead) / spanned) * LOSS_PPM_ALL));
  }

  /** A quarter of the sender's window arrived since our last STATUS. */
  windowMoved(): boolean {
    return seqDiff(this.seenSeq, this.statusSeq) >= Math.max(1, this.window >> 2);
  }

  /** Retention frees on delivery: a quarter of the sender's hold was delivered since our last STATUS. */
  retentionMoved(): boolean {
    return this.assembly.delivered - this.statusDelivered >= Math.max(1, this.session.retainSlices >> 2);
  }

  /** The sender sent DATA up to `seq`, and we never saw it. */
  unseen(seq: number): boolean {
    return seqDiff(this.seenSeq, seq) < 0;
  }

  /** Whether we hold the sender's window back from the REQACK's point of view. */
  isBehind(needSlices: number, needSeq: number): boolean {
    return this.assembly.deliveredForSender() < needSlices || this.unseen(needSeq);
  }

  /**
   * A REQACK while we take data (`receiving`) or not (we have every slice). In a small
   * session: answered at once if we are behind. In a quiet one (this REQACK or an earlier
   * one said so): an answer after a random wait if we are behind, none if a later copy
   * shows we are not (someone worse answered); our heartbeat follows the REQACK's.
   */
  onReqack(r: Reqack, receiving: boolean, now: number): void {
    if ((r.flags & REQACK_FLAG_QUIET) !== 0) {
      if (!this.quietSession) this.statusAtMs = now + this.nextQuietStatusMs(r.heartbeatMs);
      this.quietSession = true;
      this.quietStatusEveryMs = r.heartbeatMs;
      this.group = Math.max(1, r.groupSize);
    }
    const behind = receiving && this.isBehind(r.needSlices, r.needSeq);
    if (!this.quietSession) {
      if (behind) this.sendStatus(STATUS_FLAG_REPLY, false, now, r.reqackId);
      return;
    }
    if (!behind) {
      this.limitingNow = false;
      this.answerAtMs = undefined;
      return;
    }
    this.answerId = r.reqackId;
    this.answerAtMs ??= now + this.answerDelayMs(r);
  }

  /** Quiet session: our answer is due. */
  answerDue(now: number): boolean {
    return this.answerAtMs !== undefined && now >= this.answerAtMs;
  }

  /** Sends the answer that is due, naming the last REQACK that found us behind. */
  sendAnswer(complete: boolean, now: number): void {
    this.answerAtMs = undefined;
    // Limiting only once our answer went: no later copy showed someone worse. Were every
    // receiver behind the first copy limiting at once, each would report at its next DATA,
    // before that copy could silence it (hundreds a slice when END finds a thousand
    // receivers still repairing their last slices).
    this.limitingNow = true;
    this.sendStatus(STATUS_FLAG_REPLY, complete, now, this.answerId);
  }

  /**
   * The further behind, the sooner: four bands by how many slices short of the REQACK's
   * needSlices we are (4 or more, 3, 2, 1; behind only in what we read: the last band),
   * each a quarter of the answer window, and a random place in the band. So the worst
   * answer tends to reach the sender first, and its next copy of the REQACK silences the
   * rest. The place in the band is drawn from a truncated exponential whose mass moves
   * later as the group grows (NORM's feedback timers), so even many receivers in one band
   * start answering one at a time.
   */
  private answerDelayMs(r: Reqack): number {
    const short = r.needSlices - this.assembly.deliveredForSender();
    const band = short >= 4 ? 0 : short >= 1 ? 4 - short : 3;
    return (r.answerWindowMs * (band + spreadByGroup(this.cfg.random(), this.group))) / 4;
  }

  /** Quiet session: the next STATUS, somewhere in the second half of the REQACK's heartbeatMs, so they do not come in step. */
  private nextQuietStatusMs(everyMs: number): number {
    return everyMs * (0.5 + 0.5 * this.cfg.random());
  }

  sendJoin(now: number): void {
    const buf = new Uint8Array(JOIN_SIZE);
    encodeJoin(
      {
        sessionId: this.session.sessionId,
        receiverId: this.cfg.receiverId,
        caps: CAP_PARITY_REPAIR | (this.inOrder ? CAP_IN_ORDER : 0),
        rcvBufBytes: this.cfg.rcvBufBytes,
      },
      buf,
    );
    this.toSender(buf);
    this.joinAtMs = now + this.cfg.joinIntervalMs;
  }

  /**
   * `complete`: everything is delivered (the sender stops counting us as behind).
   * `reqackId`: the REQACK this answers (STATUS_FLAG_REPLY goes with it), 0 for none.
   */
  sendStatus(flags: number, complete: boolean, now: number, reqackId = 0): void {
    if (this.session.async) return;
    const buf = new Uint8Array(STATUS_SIZE);
    encodeStatus(
      {
        sessionId: this.session.sessionId,
        receiverId: this.cfg.receiverId,
        flags: flags | (complete ? STATUS_FLAG_COMPLETE : 0) | (reqackId !== 0 ? STATUS_FLAG_REPLY : 0),
        seenSeq: this.seenSeq >>> 0,
        deliveredSlices: this.assembly.deliveredForSender(),
        bytesWritten: this.sink.bytesWritten,
        reqackId,
        lossPpm: this.lossPpm(),
      },
      buf,
    );
    this.toSender(buf);
    this.stats.statusSent++;
    this.statusSeq = this.seenSeq;
    this.statusDelivered = this.assembly.delivered;
    this.statusAtMs = now + (this.quietSession ? this.nextQuietStatusMs(this.quietStatusEveryMs) : this.cfg.statusIntervalMs);
  }

  sendNak(s: RxSlice): void {
    const msg = {
      sessionId: this.session.sessionId,
      receiverId: this.cfg.receiverId,
      sliceNo: s.sliceNo,
      seenSeq: this.seenSeq >>> 0,
      need: needOf(s),
      heard: s.stripes.map((st) => st.heard),
    };
    const buf = new Uint8Array(nakLength(msg));
    encodeNak(msg, buf);
    this.out.push({ to: 'group', bytes: buf });
    this.stats.naksSent++;
  }

  sendLeave(reason: Reason, detail: string): void {
    const msg = { sessionId: this.session.sessionId, receiverId: this.cfg.receiverId, reason, detail };
    const buf = new Uint8Array(leaveLength(msg));
    encodeLeave(msg, buf);
    // Twice: a lost LEAVE only costs the sender its retries, but it is cheap to avoid.
    this.toSender(buf);
    this.toSender(buf);
  }

  /** Queues our REPORT (encodeReport made it) once more. */
  sendReport(report: Uint8Array): void {
    this.toSender(report);
  }

  private toSender(bytes: Uint8Array): void {
    this.out.push({ to: this.session.senderControl, bytes });
  }

  /** Our final word, encoded once and repeated until the sender's REPORT_ACK. */
  encodeReport(ok: boolean, reason: Reason, digest: Uint8Array, detail: string): Uint8Array {
    const msg = {
      sessionId: this.session.sessionId,
      receiverId: this.cfg.receiverId,
      outcome: ok ? Outcome.Verified : Outcome.Failed,
      reason,
      bytesWritten: this.sink.bytesWritten,
      digest: digest.byteLength === DIGEST_BYTES ? digest : new Uint8Array(DIGEST_BYTES),
      detail,
    };
    const buf = new Uint8Array(reportLength(msg));
    encodeReport(msg, buf);
    return buf;
  }
}
