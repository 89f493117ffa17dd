// The receiver's protocol engine: a sans-IO state machine. Fed datagrams (from both
// sockets), sink progress and the clock; it hands back datagrams for the rendezvous
// group, the next wake-up time and events: complete slices to write, in order.
//
// States (what holds in each):
//   listening  no session yet; the first valid HELLO picks the session and sender.
//   joining    JOIN repeats every joinIntervalMs until our ACCEPT arrives.
//   accepted   in the session, waiting for START or the first DATA.
//   receiving  slices come in; complete ones are delivered in order; missing symbols
//              are NAKed after a random backoff unless another receiver asked for as many.
//   verifying  every slice delivered; the driver finishes the sink and checks the digest.
//   reporting  REPORT repeats until the sender's REPORT_ACK (or reportTries run out).
//   done       finished: ok or failed with a reason. Nothing more is sent.
//
// Late join (the sender runs with --streaming): a receiver whose first HELLO says the
// transfer is under way waits for its ACCEPT, which names joinSlice J. It then receives
// slices J..end with the others (pass A), and afterwards the head 0..J-1, every slice of
// it NAKed at once within the retention window (pass B, the head pass). Slices are
// delivered with their byte offsets: the driver writes them in place and verifies by
// reading the image back. A receiver whose sink takes the image only in order
// (lateJoinBlocker) says so and ends instead of joining.

import { decodeDatagram } from '../protocol/codec.js';
import type { Endpoint } from '../protocol/endpoint.js';
import { checkDataAgainstSession } from '../protocol/geometry.js';
import { MessageType } from '../protocol/header.js';
import type { Data } from '../protocol/messages/data.js';
import { DROP_ALL, type Drop } from '../protocol/messages/drop.js';
import type { End } from '../protocol/messages/end.js';
import { IMAGE_BYTES_UNKNOWN, type Hello } from '../protocol/messages/hello.js';
import type { Nak } from '../protocol/messages/nak.js';
import type { Reqack } from '../protocol/messages/reqack.js';
import { STATUS_FLAG_REPLY } from '../protocol/messages/status.js';
import { Reason, reasonName } from '../protocol/reasons.js';
import { Assembly, type SinkProgress } from './core/assembly.js';
import { DEFAULT_MAX_RETAIN_BYTES, type ReceiverConfig } from './core/config.js';
import type { ReceiverEvent, ReceiverInput } from './core/events.js';
import { Feedback } from './core/feedback.js';
import { NakScheduler } from './core/nak-scheduler.js';
import { Session } from './core/session.js';
import { countDrop, newReceiverStats, type DropCode, type ReceiverStats } from './core/stats.js';

export type { Endpoint };
export { DEFAULT_MAX_RETAIN_BYTES, type ReceiverConfig } from './core/config.js';
export type { ReceiverEvent, ReceiverInput } from './core/events.js';
export type { ReceiverStats } from './core/stats.js';

type State = 'listening' | 'joining' | 'accepted' | 'receiving' | 'verifying' | 'reporting' | 'done';

export class ReceiverCore {
  readonly stats: ReceiverStats = newReceiverStats();

  private state: State = 'listening';
  /** Made on the first valid HELLO. */
  private session: Session | undefined;
  private readonly out: Uint8Array[] = []; // bounded: a handful per input
  private readonly events: ReceiverEvent[] = []; // drained by the driver every turn
  /** Made with the session. */
  private assembly: Assembly | undefined;
  private naks: NakScheduler | undefined;
  private feedback: Feedback | undefined;
  private readonly sink: SinkProgress = { unwritten: 0, bytesWritten: 0 };
  private readonly startedAtMs: number;
  private lastSenderAtMs: number;
  private nextReportAtMs = 0;
  private reportsLeft = 0;
  private report: Uint8Array | undefined;
  private result: { ok: boolean; reason: Reason; detail: string } | undefined;

  constructor(
    private readonly cfg: Readonly<ReceiverConfig>,
    now: number,
  ) {
    if (cfg.receiverId === 0) throw new RangeError('receiverId must be nonzero');
    this.startedAtMs = now;
    this.lastSenderAtMs = now;
  }

  get currentState(): State {
    return this.state;
  }

  get progress(): { delivered: number; bytesWritten: number; imageBytes: number } {
    return {
      delivered: this.assembly?.delivered ?? 0,
      bytesWritten: this.sink.bytesWritten,
      imageBytes: this.session?.geo.imageBytes ?? IMAGE_BYTES_UNKNOWN,
    };
  }

  handle(input: ReceiverInput, now: number): void {
    switch (input.kind) {
      case 'datagram':
        this.onDatagram(input.from, input.bytes, now);
        break;
      case 'written':
        this.sink.unwritten -= input.slices;
        this.sink.bytesWritten += input.bytes;
        this.deliverReady(now);
        break;
      case 'verified':
        this.onVerified(input, now);
        break;
      case 'abort':
        this.fail(input.reason, input.detail, now);
        break;
    }
    this.advance(now);
  }

  handleTimeout(now: number): void {
    this.advance(now);
  }

  pollTransmit(): Uint8Array | undefined {
    return this.out.shift();
  }

  pollEvent(): ReceiverEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): number | undefined {
    switch (this.state) {
      case 'done':
        return undefined;
      case 'listening':
        return this.cfg.startTimeoutMs === undefined ? undefined : this.startedAtMs + this.cfg.startTimeoutMs;
      case 'reporting':
        return this.nextReportAtMs;
      default: {
        let t = this.lastSenderAtMs + this.cfg.receiveTimeoutMs;
        const fb = this.feedback!;
        t = Math.min(t, this.state === 'joining' ? fb.nextJoinAtMs : fb.nextStatusAtMs);
        if (this.state === 'receiving' && !fb.accepted) t = Math.min(t, fb.nextJoinAtMs);
        if (this.state === 'joining' || this.state === 'accepted') {
          if (this.cfg.startTimeoutMs !== undefined) t = Math.min(t, this.startedAtMs + this.cfg.startTimeoutMs);
        }
        // NAK timers run only while receiving (advance() fires them only then): a stray
        // slice left past the image's end would otherwise keep a past deadline while
        // verifying and wake the driver at once, again and again. Found by the fuzz harness.
        if (this.state === 'receiving') {
          t = Math.min(t, this.naks!.nextDeadlineMs());
        }
        return t;
      }
    }
  }

  // ---- datagrams -------------------------------------------------------------------

  private onDatagram(from: Endpoint, bytes: Uint8Array, now: number): void {
    if (this.state === 'done') return;
    const r = decodeDatagram(bytes);
    if (!r.ok) return this.countDrop(r.code);
    const m = r.value;
    if (this.state === 'listening') {
      if (m.type === MessageType.Hello) this.onFirstHello(from, m.msg, now);
      return;
    }
    if (m.msg.sessionId !== this.session!.sessionId) return this.countDrop('ERR_WRONG_SESSION');
    switch (m.type) {
      case MessageType.Nak:
        return this.onOtherNak(m.msg, now);
      case MessageType.Join:
      case MessageType.Status:
      case MessageType.Report:
      case MessageType.Leave:
        return; // other receivers' feedback: nothing for us
      default:
        break;
    }
    // Everything else comes from the sender only.
    if (from.address !== this.session!.senderAddress) return this.countDrop('ERR_WRONG_SENDER');
    this.lastSenderAtMs = now;
    // Late, not yet taken: the transfer going on is not ours until the ACCEPT says from where.
    if (this.session!.late && !this.feedback!.accepted && m.type !== MessageType.Accept && m.type !== MessageType.Drop) return;
    switch (m.type) {
      case MessageType.Hello:
        return;
      case MessageType.Accept:
        if (m.msg.receiverId === this.cfg.receiverId && !this.feedback!.accepted) this.onAccept(m.msg.joinSlice, now);
        return;
      case MessageType.Start:
        // DATA may overtake START: the window it carries counts whenever it arrives.
        this.feedback!.setWindow(m.msg.windowPackets);
        if (this.state === 'accepted' || this.state === 'joining') this.begin();
        return;
      case MessageType.Data:
        return this.onData(m.msg, now);
      case MessageType.Reqack:
        return this.onReqack(m.msg, now);
      case MessageType.End:
        return this.onEnd(m.msg, now);
      case MessageType.ReportAck:
        if (m.msg.receiverId === this.cfg.receiverId && this.state === 'reporting') this.finishReport();
        return;
      case MessageType.Drop:
        return this.onDrop(m.msg, now);
    }
  }

  private onFirstHello(from: Endpoint, hello: Hello, now: number): void {
    const session = Session.open(from, hello, this.cfg.maxRetainBytes ?? DEFAULT_MAX_RETAIN_BYTES);
    if (typeof session === 'string') return this.countDrop(session);
    this.session = session;
    this.assembly = new Assembly(session, this.cfg, this.sink, this.stats, this.events);
    this.feedback = new Feedback(this.cfg, session, this.assembly, this.sink, this.out, this.stats, now);
    this.naks = new NakScheduler(this.cfg, session, this.assembly, this.feedback, this.stats);
    this.lastSenderAtMs = now;
    this.events.push({
      kind: 'session',
      sessionId: session.sessionId,
      sender: session.senderAddress,
      dataGroup: session.dataGroup,
      dataPort: session.dataPort,
      imageBytes: session.geo.imageBytes,
    });
    if (session.async) {
      // No return channel: no JOIN, no ACCEPT; listen from here on.
      this.events.push({ kind: 'accepted', joinSlice: 0 });
      this.begin();
      return;
    }
    if (session.late) {
      // The transfer is under way (this receiver was restarted, or started late).
      if (!session.streaming) {
        return this.fail(Reason.LateJoin, 'the transfer is already under way, and the sender takes no late receivers (udp-sender --streaming)', now);
      }
      if (this.cfg.lateJoinBlocker !== undefined) return this.fail(Reason.LateJoin, this.lateBlockedDetail(), now);
    }
    this.state = 'joining';
  }

  private lateBlockedDetail(): string {
    return `the transfer is already under way, and a late receiver writes the head of the image last, in place: ${this.cfg.lateJoinBlocker}`;
  }

  private onAccept(joinSlice: number, now: number): void {
    this.feedback!.onAccepted(now);
    if (joinSlice > 0) {
      // Taken late: we may have heard the HELLO before START, but the sender counts us from J.
      if (this.cfg.lateJoinBlocker !== undefined) return this.fail(Reason.LateJoin, this.lateBlockedDetail(), now);
      if (this.assembly!.delivered > 0) {
        return this.fail(Reason.LateJoin, 'the sender took us only after the transfer started, when we had begun from the first slice: start this receiver again to rejoin', now);
      }
      this.assembly!.startLate(joinSlice);
      this.feedback!.restartDeliveredCount(joinSlice);
      this.naks!.raiseFrontier(joinSlice);
    }
    this.events.push({ kind: 'accepted', joinSlice });
    if (this.state === 'joining') this.state = 'accepted';
    // START went out long ago: a late receiver begins now.
    if (this.state === 'accepted' && (this.session!.late || joinSlice > 0)) this.begin();
  }

  /**
   * The transfer has begun. From 'joining' too: our ACCEPT may be lost while the sender
   * counted us, so we take the data and keep repeating JOIN until the ACCEPT comes (or a
   * DROP says we were too late).
   */
  private begin(): void {
    if (this.state === 'joining') this.feedback!.onStartedUnanswered();
    this.state = 'receiving';
    this.events.push({ kind: 'started', windowPackets: this.feedback!.windowPackets });
  }

  private onData(d: Data, now: number): void {
    const g = this.session!.geo;
    if (this.state === 'accepted' || this.state === 'joining') this.begin();
    if (this.state !== 'receiving') return; // verifying/reporting: we have it all
    const c = checkDataAgainstSession(g, d);
    if (!c.ok) return this.countDrop(c.code);
    if (this.session!.end !== undefined && d.sliceNo >= this.session!.end.totalSlices) return this.countDrop('ERR_BAD_FIELD');
    this.feedback!.onSeq(d.seq);
    this.naks!.onData(d, now);
    const s = this.assembly!.take(d);
    if (s !== undefined) this.naks!.onSymbol(s, d, now);
    this.markDue(now);
    this.deliverReady(now);
    if (this.feedback!.windowMoved()) this.sendStatus(0, now);
  }

  private deliverReady(now: number): void {
    if (this.state !== 'receiving') return;
    const asm = this.assembly!;
    if (asm.deliverReady()) {
      // Retention frees on delivery: tell the sender when a quarter of its hold moved.
      if (this.feedback!.retentionMoved()) this.sendStatus(0, now);
      this.markDue(now);
    }
    this.checkComplete(now);
  }

  private checkComplete(now: number): void {
    const e = this.session?.end;
    if (this.state !== 'receiving' || e === undefined) return;
    const asm = this.assembly!;
    const p = asm.pass;
    if (p.kind === 'live' && p.joinSlice > 0 && asm.passDelivered(e.totalSlices)) this.startHead(e.totalSlices, now);
    if (!asm.passDelivered(e.totalSlices)) return;
    this.state = 'verifying';
    this.sendStatus(0, now);
    this.events.push({ kind: 'complete', totalBytes: e.totalBytes, digest: e.digest });
  }

  /**
   * Late join: slices joinSlice.. are delivered; the head 0..joinSlice-1 comes now. Nothing
   * of it will come unasked, so every head slice in the window is due at once (the sender
   * re-reads it from its source and sends the data blocks again).
   */
  private startHead(totalSlices: number, now: number): void {
    const asm = this.assembly!;
    asm.startHead(totalSlices);
    this.feedback!.restartDeliveredCount(0);
    this.events.push({ kind: 'head', slices: asm.pass.joinSlice });
    this.markDue(now);
  }

  private markDue(now: number): void {
    if (this.state === 'receiving') this.naks!.markDue(now);
  }

  private onOtherNak(nak: Nak, now: number): void {
    this.stats.naksHeard++;
    if (nak.receiverId === this.cfg.receiverId || this.state !== 'receiving') return;
    this.naks!.onOtherNak(nak, now);
  }

  private onReqack(r: Reqack, now: number): void {
    if (this.state === 'accepted' || this.state === 'joining') this.begin();
    this.naks!.raiseFrontier(r.needSlices);
    this.markDue(now);
    // Only receivers holding the window back answer; one that has everything is not.
    const behind = this.feedback!.isBehind(r.needSlices, r.needSeq);
    if (behind && this.state === 'receiving') this.sendStatus(STATUS_FLAG_REPLY, now);
  }

  private onEnd(e: End, now: number): void {
    const session = this.session!;
    if (this.state === 'accepted' || this.state === 'joining') this.begin();
    if (session.end === undefined) {
      if (!session.learnEnd(e)) {
        return this.fail(Reason.ProtocolViolation, `END disagrees with the session: ${e.totalBytes} bytes`, now);
      }
      this.naks!.raiseFrontier(e.totalSlices);
      this.assembly!.dropWrongGuesses(e.totalBytes);
    }
    // Every copy of END (it repeats) re-checks: we may have joined late, after the first.
    this.markDue(now);
    this.checkComplete(now);
    // Each END is a round of the sender's --retries-until-drop: answer it, with progress
    // while receiving, and as a sign of life while verifying.
    if (this.state === 'receiving' || this.state === 'verifying') this.sendStatus(STATUS_FLAG_REPLY, now);
  }

  private onDrop(d: Drop, now: number): void {
    if (d.receiverId !== this.cfg.receiverId && d.receiverId !== DROP_ALL) return;
    if (this.state === 'reporting') return; // our REPORT is in; an abort now changes nothing we wrote
    this.result = { ok: false, reason: d.reason, detail: `dropped by the sender: ${reasonName(d.reason)}` };
    this.state = 'done';
    this.events.push({ kind: 'done', ...this.result });
  }

  private onVerified(v: ReceiverInput & { kind: 'verified' }, now: number): void {
    if (this.state !== 'verifying') return;
    this.result = { ok: v.ok, reason: v.ok ? Reason.None : v.reason, detail: v.detail };
    if (this.session!.async) {
      this.finishReport(); // nobody to report to
      return;
    }
    this.report = this.feedback!.encodeReport(v.ok, this.result.reason, v.digest, v.detail);
    this.state = 'reporting';
    this.reportsLeft = this.cfg.reportTries;
    this.nextReportAtMs = now;
  }

  private finishReport(): void {
    this.state = 'done';
    this.events.push({ kind: 'done', ...this.result! });
  }

  /** Gives up: tells the sender (LEAVE) and ends. Nothing already delivered is taken back; the driver discards it. */
  private fail(reason: Reason, detail: string, _now: number): void {
    if (this.state === 'done') return;
    if (this.state !== 'listening' && !this.session!.async) {
      this.feedback!.sendLeave(reason, detail);
    }
    this.result = { ok: false, reason, detail };
    this.state = 'done';
    this.events.push({ kind: 'done', ...this.result });
  }

  // ---- the clock -------------------------------------------------------------------

  private advance(now: number): void {
    switch (this.state) {
      case 'done':
        return;
      case 'listening':
        if (this.cfg.startTimeoutMs !== undefined && now >= this.startedAtMs + this.cfg.startTimeoutMs) {
          this.fail(Reason.StartTimeout, 'no sender found before --start-timeout', now);
        }
        return;
      case 'reporting':
        if (now >= this.nextReportAtMs) {
          if (this.reportsLeft-- <= 0) {
            // The sender never confirmed; our result stands on our own check.
            this.finishReport();
            return;
          }
          this.out.push(this.report!);
          this.nextReportAtMs = now + this.cfg.reportIntervalMs;
        }
        return;
      default:
        break;
    }
    if (now >= this.lastSenderAtMs + this.cfg.receiveTimeoutMs) {
      return this.fail(Reason.ReceiveTimeout, `sender silent for ${this.cfg.receiveTimeoutMs / 1000} s`, now);
    }
    if (
      (this.state === 'joining' || this.state === 'accepted') &&
      this.cfg.startTimeoutMs !== undefined &&
      now >= this.startedAtMs + this.cfg.startTimeoutMs
    ) {
      return this.fail(Reason.StartTimeout, 'transfer did not start before --start-timeout', now);
    }
    const fb = this.feedback!;
    if ((this.state === 'joining' || (this.state === 'receiving' && !fb.accepted)) && now >= fb.nextJoinAtMs) fb.sendJoin(now);
    if (this.state !== 'joining' && now >= fb.nextStatusAtMs) this.sendStatus(0, now);
    if (this.state === 'receiving') {
      const lost = this.naks!.fire(now);
      if (lost !== undefined) return this.fail(Reason.Unrecoverable, lost, now);
    }
  }

  private sendStatus(flags: number, now: number): void {
    this.feedback!.sendStatus(flags, this.state === 'verifying' || this.state === 'reporting', now);
  }

  private countDrop(code: DropCode): void {
    countDrop(this.stats, code);
  }
}
