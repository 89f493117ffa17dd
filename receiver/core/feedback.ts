// What the receiver says, and the clocks for it: JOIN until the sender answers with our
// ACCEPT, STATUS (how far we delivered and wrote, the newest DATA sequence number we saw:
// the sender's flow window follows it), NAKs (the scheduler decides when; this encodes
// them), LEAVE and REPORT. NAKs go to the rendezvous group, where the other receivers hear
// them and keep quiet; everything else goes to the sender alone (its control endpoint),
// so no receiver spends anything on another's STATUS. Everything goes to the core's
// outgoing queue. With --async the receiver has no return channel and sends nothing.

import { CAP_PARITY_REPAIR } from '../../protocol/header.js';
import { DIGEST_BYTES } from '../../protocol/messages/end.js';
import { encodeJoin, JOIN_SIZE } from '../../protocol/messages/join.js';
import { encodeLeave, leaveLength } from '../../protocol/messages/leave.js';
import { encodeNak, nakLength } from '../../protocol/messages/nak.js';
import { encodeReport, Outcome, reportLength } from '../../protocol/messages/report.js';
import { encodeStatus, LOSS_PPM_ALL, STATUS_FLAG_COMPLETE, STATUS_FLAG_REPLY, STATUS_SIZE } from '../../protocol/messages/status.js';
import type { Reason } from '../../protocol/reasons.js';
import { seqDiff } from '../../protocol/seq.js';
import type { Assembly, SinkProgress } from './assembly.js';
import type { ReceiverConfig } from './config.js';
import type { ReceiverTransmit } from './events.js';
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
  /** The first DATA seq read (undefined: none yet) and DATA read since: STATUS's lossPpm. */
  private firstSeq: number | undefined;
  private dataRead = 0;
  private statusSeq = 0; // seenSeq at our last STATUS
  private statusDelivered = 0; // the assembly's delivered count at our last STATUS
  private joinAtMs: number;
  /** Set by our ACCEPT, or by the data beginning before it; nothing reads it earlier. */
  private statusAtMs: number;

  constructor(
    private readonly cfg: Pick<ReceiverConfig, 'receiverId' | 'rcvBufBytes' | 'joinIntervalMs' | 'statusIntervalMs'>,
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

  /** START (or a repeat of it) named the sender's window. */
  setWindow(windowPackets: number): void {
    this.window = windowPackets;
  }

  /** Our ACCEPT arrived: JOIN stops and the STATUS heartbeat counts from now. */
  onAccepted(now: number): void {
    this.answered = true;
    this.statusAtMs = now + this.cfg.statusIntervalMs;
  }

  /** The data began before our ACCEPT: STATUS goes out on the JOIN clock until it comes. */
  onStartedUnanswered(): void {
    this.statusAtMs = this.joinAtMs;
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
        caps: CAP_PARITY_REPAIR,
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
