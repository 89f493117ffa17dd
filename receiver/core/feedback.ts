// What the receiver says to the rendezvous group, and the clocks for it: JOIN until the
// sender answers with our ACCEPT, STATUS (how far we delivered and wrote, the newest DATA
// sequence number we saw: the sender's flow window follows it), HEARTBEAT (how we are
// doing: rates, loss, what limits us; at a low rate, for the sender's table and slow-node
// policy), NAKs (the scheduler decides when; this encodes them), LEAVE and REPORT.
// Everything goes to the core's outgoing queue. With --async the receiver has no return
// channel and sends nothing.

import { CAP_IN_ORDER, CAP_PARITY_REPAIR } from '../../protocol/header.js';
import { DIGEST_BYTES } from '../../protocol/messages/end.js';
import { encodeHeartbeat, HEARTBEAT_FLAG_CATCH_UP, HEARTBEAT_SIZE } from '../../protocol/messages/heartbeat.js';
import { encodeJoin, JOIN_SIZE } from '../../protocol/messages/join.js';
import { encodeLeave, leaveLength } from '../../protocol/messages/leave.js';
import { encodeNak, nakLength } from '../../protocol/messages/nak.js';
import { encodeReport, Outcome, reportLength } from '../../protocol/messages/report.js';
import { encodeStatus, STATUS_FLAG_COMPLETE, STATUS_SIZE } from '../../protocol/messages/status.js';
import type { Reason } from '../../protocol/reasons.js';
import { seqDiff } from '../../protocol/seq.js';
import type { Assembly, SinkProgress } from './assembly.js';
import type { ReceiverConfig } from './config.js';
import type { Session } from './session.js';
import { needOf, type RxSlice } from './slice.js';
import type { ReceiverStats } from './stats.js';

export class Feedback {
  /**
   * Our JOIN was answered (from the start with --async, where nobody joins). The answer
   * may come after the data has begun: the sender counted us and our ACCEPT was lost.
   */
  private answered: boolean;
  /** The sender's flow window in packets (START); a STATUS goes out every quarter of it. */
  private window = 64;
  private seenSeq = 0;
  private statusSeq = 0; // seenSeq at our last STATUS
  private statusDelivered = 0; // the assembly's delivered count at our last STATUS
  private joinAtMs: number;
  /** Set by our ACCEPT, or by the data beginning before it; nothing reads it earlier. */
  private statusAtMs: number;
  /** The next HEARTBEAT: set with the STATUS clock (from our ACCEPT on), Infinity before and with --async. */
  private heartbeatAtMs = Infinity;
  /** Receivers in the session, as START said: the heartbeat interval grows with them. */
  private receivers = 1;
  /** JOIN says CAP_IN_ORDER: we are late and take the image only in order (the catch-up pass). */
  private inOrder = false;

  constructor(
    private readonly cfg: Pick<ReceiverConfig, 'receiverId' | 'rcvBufBytes' | 'joinIntervalMs' | 'statusIntervalMs' | 'heartbeatIntervalMs'>,
    private readonly session: Session,
    private readonly assembly: Assembly,
    private readonly sink: SinkProgress,
    private readonly out: Uint8Array[],
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

  /** The data began before our ACCEPT: STATUS goes out on the JOIN clock until it comes. */
  onStartedUnanswered(): void {
    this.statusAtMs = this.joinAtMs;
  }

  /**
   * How we are doing, from the core's LoadMeter snapshot; the next one is due an interval
   * on (heartbeatIntervalMs, or 1 ms per receiver in the session if that is longer).
   */
  sendHeartbeat(
    x: {
      elapsedMs: number;
      sinkBusyMs: number;
      packetsRead: number;
      packetsSent: number;
      cpuPermille: number;
      outputBytes: number;
      outputBusyMs: number;
      limit: number;
    },
    catchUp: boolean,
    now: number,
  ): void {
    this.heartbeatAtMs = now + Math.max(this.cfg.heartbeatIntervalMs, this.receivers);
    if (this.session.async) return;
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
    this.out.push(buf);
    this.stats.heartbeatsSent++;
  }

  /** Delivery moved to another pass (late join): the quarter-of-retention rule counts from `delivered`. */
  restartDeliveredCount(delivered: number): void {
    this.statusDelivered = delivered;
  }

  /** A DATA packet's sequence number: STATUS tells the sender the newest we saw. */
  onSeq(seq: number): void {
    if (seqDiff(seq, this.seenSeq) > 0) this.seenSeq = seq;
  }

  /** A quarter of the sender's window arrived since our last STATUS. */
  windowMoved(): boolean {
    return seqDiff(this.seenSeq, this.statusSeq) >= Math.max(1, this.window >> 2);
  }

  /** Retention frees on delivery: a quarter of the sender's hold was delivered since our last STATUS. */
  retentionMoved(): boolean {
    return this.assembly.delivered - this.statusDelivered >= Math.max(1, this.session.retainSlices >> 2);
  }

  /** Whether we hold the sender's window back from the REQACK's point of view. */
  isBehind(needSlices: number, needSeq: number): boolean {
    return this.assembly.deliveredForSender() < needSlices || seqDiff(this.seenSeq, needSeq) < 0;
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
    this.out.push(buf);
    this.joinAtMs = now + this.cfg.joinIntervalMs;
  }

  /** `complete`: everything is delivered (the sender stops counting us as behind). */
  sendStatus(flags: number, complete: boolean, now: number): void {
    if (this.session.async) return;
    const buf = new Uint8Array(STATUS_SIZE);
    encodeStatus(
      {
        sessionId: this.session.sessionId,
        receiverId: this.cfg.receiverId,
        flags: flags | (complete ? STATUS_FLAG_COMPLETE : 0),
        seenSeq: this.seenSeq >>> 0,
        deliveredSlices: this.assembly.deliveredForSender(),
        bytesWritten: this.sink.bytesWritten,
      },
      buf,
    );
    this.out.push(buf);
    this.stats.statusSent++;
    this.statusSeq = this.seenSeq;
    this.statusDelivered = this.assembly.delivered;
    this.statusAtMs = now + this.cfg.statusIntervalMs;
  }

  sendNak(s: RxSlice): void {
    const msg = {
      sessionId: this.session.sessionId,
      receiverId: this.cfg.receiverId,
      sliceNo: s.sliceNo,
      need: needOf(s),
      heard: s.stripes.map((st) => st.heard),
    };
    const buf = new Uint8Array(nakLength(msg));
    encodeNak(msg, buf);
    this.out.push(buf);
    this.stats.naksSent++;
  }

  sendLeave(reason: Reason, detail: string): void {
    const msg = { sessionId: this.session.sessionId, receiverId: this.cfg.receiverId, reason, detail };
    const buf = new Uint8Array(leaveLength(msg));
    encodeLeave(msg, buf);
    // Twice: a lost LEAVE only costs the sender its retries, but it is cheap to avoid.
    this.out.push(buf, buf);
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
