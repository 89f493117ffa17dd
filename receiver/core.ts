// The receiver's protocol engine: a sans-IO state machine. Fed datagrams (from every
// socket), sink progress and the clock; it hands back datagrams (each for the sender
// alone or for the rendezvous group), the next wake-up time and events: complete slices
// to write, in order.
//
// This file is the dispatcher: it decodes each datagram, checks that it belongs to the
// session, hands it to the part that owns it and moves between the phases. The parts are
// beside it in receiver/core/:
//   session.ts        the session the first HELLO announced (END adds the image's size)
//   phase.ts          the phases, what each carries, and the parts a session is made of
//   assembly.ts       slices (slice.ts): blocks, parity, FEC decoding, in-order delivery
//   data-in.ts        the DATA being handled, decoded or placed, as the assembly takes it
//   passes.ts         late join (the head pass) and the catch-up pass: moving between passes
//   nak-scheduler.ts  when to NAK a slice and when to keep quiet, with its own timers
//   feedback.ts       what we send (JOIN, STATUS, HEARTBEAT, NAK, LEAVE, REPORT), where, and its clocks
//   backoff.ts        how random waits spread when many receivers wait for the same thing
//   load.ts           how we are doing, for HEARTBEAT: sink back-pressure, loss, what limits us
//   data-watch.ts     the sender is heard but its DATA is not: join the data group again
//   stats.ts, config.ts, events.ts   counters, configuration, inputs and events
//
// Phases (what holds in each, and what each carries: see Phase):
//   listening  no session yet; the first valid HELLO picks the session and sender.
//   joining    JOIN repeats every joinIntervalMs until our ACCEPT arrives.
//   accepted   in the session, waiting for START or the first DATA.
//   receiving  slices come in; complete ones are delivered in order; missing symbols
//              are NAKed after a random backoff unless another receiver asked for as many.
//   verifying  every slice delivered; the driver finishes the sink and checks the digest.
//   reporting  REPORT repeats until the sender's REPORT_ACK (or reportTries run out).
//   done       finished: ok or failed with a reason. Nothing more is sent.
//
// Late join (--streaming) and the catch-up pass (too slow for the rack, or late with an
// output that takes the image only in order) are the passes; receiver/core/passes.ts says
// what each does.

import { decodeDatagram } from '../protocol/codec.js';
import type { Endpoint } from '../protocol/endpoint.js';
import { dataFieldsError } from '../protocol/geometry.js';
import { MessageType } from '../protocol/header.js';
import { type CatchUp, CatchUpWhy } from '../protocol/messages/catch-up.js';
import { DROP_ALL, type Drop } from '../protocol/messages/drop.js';
import type { End } from '../protocol/messages/end.js';
import { type Hello, IMAGE_BYTES_UNKNOWN } from '../protocol/messages/hello.js';
import type { Nak } from '../protocol/messages/nak.js';
import type { Reqack } from '../protocol/messages/reqack.js';
import { STATUS_FLAG_REPLY } from '../protocol/messages/status.js';
import { Reason, reasonName } from '../protocol/reasons.js';
import { Assembly, type DataIn, type SinkProgress } from './core/assembly.js';
import { DEFAULT_MAX_RETAIN_BYTES, type ReceiverConfig } from './core/config.js';
import { DataInRecord } from './core/data-in.js';
import { DataWatch } from './core/data-watch.js';
import { PLACED_RECORD_WORDS, type ReceiverEvent, type ReceiverInput, type ReceiverTransmit } from './core/events.js';
import { Feedback } from './core/feedback.js';
import { LoadMeter } from './core/load.js';
import { NakScheduler } from './core/nak-scheduler.js';
import { Passes } from './core/passes.js';
import type { InSession, Phase, ReportingPhase, SessionPhase, State, Verdict } from './core/phase.js';
import { Session } from './core/session.js';
import { countDrop, type DropCode, newReceiverStats, type ReceiverStats } from './core/stats.js';

export { DEFAULT_MAX_RETAIN_BYTES, type ReceiverConfig } from './core/config.js';
export { PLACED_RECORD_WORDS, type ReceiverEvent, type ReceiverInput, type ReceiverTransmit } from './core/events.js';
export { FINAL_CLEAR, FINAL_SET, heapSliceMemory, type SliceMemory, type SliceShape } from './core/slice.js';
export type { ReceiverStats } from './core/stats.js';
export type { Endpoint };

export class ReceiverCore {
  readonly stats: ReceiverStats = newReceiverStats();

  private phase: Phase = { name: 'listening' };
  private readonly out: ReceiverTransmit[] = []; // bounded: a handful per input
  private readonly events: ReceiverEvent[] = []; // drained by the driver every turn
  /** The sink's progress counts from start-up, whatever the phase. */
  private readonly sink: SinkProgress = { unwritten: 0, bytesWritten: 0 };
  private readonly startedAtMs: number;
  private lastSenderAtMs: number;
  /** The DATA being handled, decoded or placed: one record reused, so a placed DATA allocates nothing. */
  private readonly dataIn = new DataInRecord();

  constructor(
    private readonly cfg: Readonly<ReceiverConfig>,
    now: number,
  ) {
    if (cfg.receiverId === 0) throw new RangeError('receiverId must be nonzero');
    this.startedAtMs = now;
    this.lastSenderAtMs = now;
  }

  get currentState(): State {
    return this.phase.name;
  }

  get progress(): { delivered: number; bytesWritten: number; imageBytes: number } {
    const rx = this.phase.name === 'listening' ? undefined : this.phase.rx;
    return {
      delivered: rx?.assembly.delivered ?? 0,
      bytesWritten: this.sink.bytesWritten,
      imageBytes: rx?.session.geo.imageBytes ?? IMAGE_BYTES_UNKNOWN,
    };
  }

  handle(input: ReceiverInput, now: number): void {
    switch (input.kind) {
      case 'datagram':
        this.onDatagram(input.from, input.bytes, now);
        break;
      case 'placed':
        this.onPlaced(input.records, input.first, input.count, now);
        break;
      case 'written':
        this.sink.unwritten -= input.slices;
        this.sink.bytesWritten += input.bytes;
        if (this.phase.name === 'receiving') this.deliverReady(this.phase.rx, now);
        break;
      case 'verified':
        this.onVerified(input, now);
        break;
      case 'load':
        if (this.phase.name !== 'listening') this.phase.rx?.load.setPipeline(input);
        break;
      case 'abort':
        this.fail(input.reason, input.detail);
        break;
    }
    this.advance(now);
    // Whether a delivered slice waits for the sink changes only in here.
    if (this.phase.name !== 'listening') this.phase.rx?.load.sinkWaiting(this.sink.unwritten > 0, now);
  }

  handleTimeout(now: number): void {
    this.advance(now);
  }

  /**
   * Whether the data group's datagrams are of use now: false in the catch-up pass once the
   * first pass has outrun us, until it is over (receiver/core/passes.ts), and false from the
   * moment every slice is delivered. The driver leaves the group meanwhile, and joins it
   * again before sending what follows (the catch-up pass's NAKs).
   * Delivered, a node is still unpacking and hashing, and what the data group carries then
   * (another node's catch-up pass, a late one's head, repairs for the rest) would cost it a
   * read and a drop per datagram: in the lab, a slow node's catch-up pass sent 72,000-78,000
   * datagrams while the healthy nodes of its rack were still finishing their own image.
   */
  get dataWanted(): boolean {
    const p = this.phase;
    switch (p.name) {
      case 'receiving':
        return p.rx.passes.dataWanted;
      case 'verifying':
      case 'reporting':
      case 'done':
        return false;
      default:
        return true;
    }
  }

  pollTransmit(): ReceiverTransmit | undefined {
    return this.out.shift();
  }

  pollEvent(): ReceiverEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): number | undefined {
    const p = this.phase;
    switch (p.name) {
      case 'done':
        return undefined;
      case 'listening':
        return this.startDeadlineMs();
      case 'reporting':
        return p.nextReportAtMs;
      default:
        return this.sessionDeadlineMs(p);
    }
  }

  private get state(): State {
    return this.phase.name;
  }

  private startDeadlineMs(): number | undefined {
    return this.cfg.startTimeoutMs === undefined ? undefined : this.startedAtMs + this.cfg.startTimeoutMs;
  }

  private sessionDeadlineMs(p: SessionPhase): number {
    const fb = p.rx.feedback;
    let t = this.lastSenderAtMs + this.cfg.receiveTimeoutMs;
    t = Math.min(t, p.name === 'joining' ? fb.nextJoinAtMs : fb.nextStatusAtMs, fb.nextAnswerAtMs);
    if (p.name === 'receiving' && !fb.accepted) t = Math.min(t, fb.nextJoinAtMs);
    if (p.name === 'joining' || p.name === 'accepted') {
      const start = this.startDeadlineMs();
      if (start !== undefined) t = Math.min(t, start);
    }
    if (p.name !== 'joining') t = Math.min(t, fb.nextHeartbeatAtMs);
    // NAK timers run only while receiving (advance() fires them only then): a stray
    // slice left past the image's end would otherwise keep a past deadline while
    // verifying and wake the driver at once, again and again. Found by the fuzz harness.
    if (p.name === 'receiving') t = Math.min(t, p.rx.naks.nextDeadlineMs());
    return t;
  }

  // ---- datagrams -------------------------------------------------------------------

  private onDatagram(from: Endpoint, bytes: Uint8Array, now: number): void {
    const p = this.phase;
    if (p.name === 'done') return;
    const r = decodeDatagram(bytes);
    if (!r.ok) return this.countDrop(r.code);
    const m = r.value;
    if (p.name === 'listening') {
      if (m.type === MessageType.Hello) this.onFirstHello(from, m.msg, now);
      return;
    }
    const rx = p.rx;
    if (m.msg.sessionId !== rx.session.sessionId) return this.countDrop('ERR_WRONG_SESSION');
    switch (m.type) {
      case MessageType.Nak:
        return this.onOtherNak(rx, m.msg, now);
      case MessageType.Join:
      case MessageType.Status:
      case MessageType.Report:
      case MessageType.Leave:
      case MessageType.CloneReport:
      case MessageType.Heartbeat:
        this.stats.othersFeedback++; // other receivers' feedback (and clone agents' reports): nothing for us
        return;
      default:
        break;
    }
    // Everything else comes from the sender only.
    if (from.address !== rx.session.senderAddress) return this.countDrop('ERR_WRONG_SENDER');
    this.lastSenderAtMs = now;
    // Late, not yet taken: the transfer going on is not ours until the ACCEPT says from where.
    if (rx.session.late && !rx.feedback.accepted && m.type !== MessageType.Accept && m.type !== MessageType.Drop) {
      this.stats.beforeAccept++;
      return;
    }
    switch (m.type) {
      case MessageType.Hello:
        // A carousel's last pass began: slices put off to it are due again.
        if (rx.session.lastPassBegan(m.msg) && this.state === 'receiving') rx.naks.lastPassBegan(now);
        return;
      case MessageType.Accept:
        if (m.msg.receiverId === this.cfg.receiverId && !rx.feedback.accepted) this.onAccept(rx, m.msg.joinSlice, now);
        return;
      case MessageType.Start:
        // DATA may overtake START: the window it carries counts whenever it arrives.
        rx.feedback.setWindow(m.msg.windowPackets, m.msg.receivers);
        if (this.state === 'accepted' || this.state === 'joining') this.begin(rx, now);
        return;
      case MessageType.Data:
        return this.onData(rx, this.dataIn.fromData(m.msg), now);
      case MessageType.Reqack:
        return this.onReqack(rx, m.msg, now);
      case MessageType.End:
        return this.onEnd(rx, m.msg, now);
      case MessageType.ReportAck:
        if (m.msg.receiverId === this.cfg.receiverId && this.phase.name === 'reporting') this.finish(rx, this.phase.verdict);
        return;
      case MessageType.Drop:
        return this.onDrop(rx, m.msg);
      case MessageType.CatchUp:
        return this.onCatchUp(rx, m.msg, now);
    }
  }

  private onFirstHello(from: Endpoint, hello: Hello, now: number): void {
    const session = Session.open(from, hello, this.cfg.maxRetainBytes ?? DEFAULT_MAX_RETAIN_BYTES);
    if (typeof session === 'string') return this.countDrop(session);
    const assembly = new Assembly(session, this.cfg, this.sink, this.stats, this.events);
    const feedback = new Feedback(this.cfg, session, assembly, this.sink, this.out, this.stats, now);
    const naks = new NakScheduler(this.cfg, session, assembly, feedback, this.stats);
    const passes = new Passes(this.cfg, session, assembly, naks, feedback, this.events);
    const rx: InSession = { session, assembly, naks, feedback, load: new LoadMeter(now), passes, watch: new DataWatch(now) };
    this.lastSenderAtMs = now;
    this.events.push({
      kind: 'session',
      sessionId: session.sessionId,
      sender: session.senderAddress,
      dataGroup: session.dataGroup,
      dataPort: session.dataPort,
      imageBytes: session.geo.imageBytes,
      cloneReports: session.cloneReports,
    });
    if (session.async) {
      // No return channel: no JOIN, no ACCEPT; listen from here on.
      this.events.push({ kind: 'accepted', joinSlice: 0 });
      return this.begin(rx, now);
    }
    if (session.late) {
      // The transfer is under way (this receiver was restarted, or started late). We never
      // joined, so there is nobody to tell: no LEAVE.
      const refused = passes.joinLate();
      if (refused !== undefined) return this.finish(rx, { ok: false, reason: Reason.LateJoin, detail: refused });
    }
    this.phase = { name: 'joining', rx };
  }

  /** Our ACCEPT, in any phase from joining on (it may come late, or be repeated). */
  private onAccept(rx: InSession, joinSlice: number, now: number): void {
    rx.feedback.onAccepted(now);
    if (rx.passes.inOrder) {
      // The whole image in order, in the catch-up pass: nothing of the first pass is ours to
      // ask for (what we hear of it within our window, from slice 0, we keep).
      this.events.push({ kind: 'accepted', joinSlice: 0 });
      if (this.state === 'joining') this.phase = { name: 'accepted', rx };
      if (this.state === 'accepted') this.begin(rx, now);
      rx.passes.enterCatchUp(CatchUpWhy.LateInOrder, 0, 0, now);
      return;
    }
    if (joinSlice > 0) {
      // Taken late: we may have heard the HELLO before START, but the sender counts us from J.
      const refused = rx.passes.takeLate(joinSlice);
      if (refused !== undefined) return this.fail(Reason.LateJoin, refused);
    }
    this.events.push({ kind: 'accepted', joinSlice });
    if (this.state === 'joining') this.phase = { name: 'accepted', rx };
    // START went out long ago: a late receiver begins now.
    if (this.state === 'accepted' && (rx.session.late || joinSlice > 0)) this.begin(rx, now);
  }

  /**
   * The transfer has begun. From 'joining' too: our ACCEPT may be lost while the sender
   * counted us, so we take the data and keep repeating JOIN until the ACCEPT comes (or a
   * DROP says we were too late).
   */
  private begin(rx: InSession, now: number): void {
    if (this.state === 'joining') rx.feedback.onStartedUnanswered();
    rx.feedback.onTransferBegan(now);
    rx.watch.onData(now); // the first DATA has DATA_SILENT_MS from here
    this.phase = { name: 'receiving', rx };
    this.events.push({ kind: 'started', windowPackets: rx.feedback.windowPackets });
  }

  /**
   * DATA blocks the data socket placed into open slices. The socket checked what onDatagram
   * checks of a DATA (decodes, our session, our sender) and what the slice's memory was opened
   * for; everything from here on is onData, as for a decoded one, minus the copy.
   */
  private onPlaced(records: Uint32Array, first: number, count: number, now: number): void {
    const p = this.phase;
    if (p.name === 'done' || p.name === 'listening' || count === 0) return;
    const rx = p.rx;
    this.lastSenderAtMs = now;
    if (rx.session.late && !rx.feedback.accepted) {
      this.stats.beforeAccept += count;
      return;
    }
    const { sessionId, geo } = rx.session;
    for (let i = first * PLACED_RECORD_WORDS, end = (first + count) * PLACED_RECORD_WORDS; i < end; i += PLACED_RECORD_WORDS) {
      this.onData(rx, this.dataIn.fromPlaced(records, i, sessionId, geo.blockBytes), now);
      if (this.phase.name === 'done') return;
    }
  }

  private onData(rx: InSession, d: DataIn, now: number): void {
    if (this.state === 'accepted' || this.state === 'joining') this.begin(rx, now);
    if (this.state !== 'receiving') return; // verifying/reporting: we have it all
    rx.watch.onData(now);
    const c = dataFieldsError(rx.session.geo, d, d.payloadBytes);
    if (c !== undefined) return this.countDrop(c.code);
    const end = rx.session.end;
    if (end !== undefined && d.sliceNo >= end.totalSlices) return this.countDrop('ERR_BAD_FIELD');
    if (rx.passes.takeRejoin()) {
      // What went by while we were out of the data group (the catch-up pass) was not lost.
      const unheard = rx.feedback.skipUnheard(d.seq);
      rx.load.skipUnheard(unheard);
      this.stats.dataUnheard += unheard;
    }
    rx.feedback.onSeq(d.seq);
    rx.load.onData(d.seq);
    rx.naks.onData(d, now);
    const s = rx.assembly.take(d);
    if (s !== undefined) rx.naks.onSymbol(s, d, now);
    else rx.passes.beyondHold(d.sliceNo);
    this.markDue(rx, now);
    this.deliverReady(rx, now);
    if (rx.feedback.reportsProgress && rx.feedback.windowMoved()) this.sendStatus(rx, 0, now);
  }

  private deliverReady(rx: InSession, now: number): void {
    if (this.state !== 'receiving') return;
    if (rx.assembly.deliverReady()) {
      if (rx.feedback.reportsProgress && rx.feedback.retentionMoved()) this.sendStatus(rx, 0, now);
      this.markDue(rx, now);
    }
    this.checkComplete(rx, now);
  }

  private checkComplete(rx: InSession, now: number): void {
    const e = rx.session.end;
    if (this.state !== 'receiving' || e === undefined) return;
    rx.passes.startHeadWhenDue(e.totalSlices, now);
    if (!rx.assembly.passDelivered(e.totalSlices)) return;
    this.phase = { name: 'verifying', rx };
    // Quiet: only a receiver the sender waits for says it (the rest say it with REPORT).
    if (rx.feedback.reportsProgress) this.sendStatus(rx, 0, now);
    this.events.push({ kind: 'complete', totalBytes: e.totalBytes, digest: e.digest });
  }

  private markDue(rx: InSession, now: number): void {
    if (this.state === 'receiving') rx.naks.markDue(now);
  }

  /** The sender's CATCHUP for us: too slow for the rack, or (repeated) late and in order. */
  private onCatchUp(rx: InSession, c: CatchUp, now: number): void {
    if (c.receiverId !== this.cfg.receiverId || this.state !== 'receiving' || rx.naks.inCatchUp) return;
    rx.passes.enterCatchUp(c.why, c.rateKBps, c.paceKBps, now);
  }

  private onOtherNak(rx: InSession, nak: Nak, now: number): void {
    this.stats.naksHeard++;
    if (nak.receiverId === this.cfg.receiverId || this.state !== 'receiving') return;
    rx.naks.onOtherNak(nak, now);
  }

  private onReqack(rx: InSession, r: Reqack, now: number): void {
    if (this.state === 'accepted' || this.state === 'joining') this.begin(rx, now);
    rx.naks.raiseFrontier(r.needSlices);
    this.markDue(rx, now);
    if (this.state === 'receiving' && rx.passes.dataWanted && rx.feedback.unseen(r.needSeq)) {
      const silentMs = rx.watch.onBehind(now);
      if (silentMs !== undefined) {
        this.stats.dataRejoins++;
        this.events.push({ kind: 'dataSilent', silentMs });
      }
    }
    // Only receivers holding the window back answer; one that has everything is not, and
    // one in the catch-up pass is not waited for (the sender serves it apart).
    rx.feedback.onReqack(r, this.state === 'receiving' && !rx.naks.inCatchUp, now);
  }

  private onEnd(rx: InSession, e: End, now: number): void {
    if (this.state === 'accepted' || this.state === 'joining') this.begin(rx, now);
    if (rx.session.end === undefined) {
      if (!rx.session.learnEnd(e)) return this.fail(Reason.ProtocolViolation, `END disagrees with the session: ${e.totalBytes} bytes`);
      rx.naks.raiseFrontier(e.totalSlices);
      rx.assembly.dropWrongGuesses(e.totalBytes);
    }
    // The first pass is over: the catch-up pass, if we are in it, fetches the rest.
    if (this.state === 'receiving') rx.passes.beginCatchUp(now);
    // Every copy of END (it repeats) re-checks: we may have joined late, after the first.
    this.markDue(rx, now);
    this.checkComplete(rx, now);
    // Each END is a round of the sender's --retries-until-drop: answer it, with progress
    // while receiving, and as a sign of life while verifying. Not in a quiet session: a
    // STATUS from every receiver each round is what it avoids (its REQACKs ask instead).
    if ((this.state === 'receiving' || this.state === 'verifying') && !rx.feedback.quiet) this.sendStatus(rx, STATUS_FLAG_REPLY, now);
  }

  private onDrop(rx: InSession, d: Drop): void {
    if (d.receiverId !== this.cfg.receiverId && d.receiverId !== DROP_ALL) return;
    if (this.state === 'reporting') return; // our REPORT is in; an abort now changes nothing we wrote
    this.finish(rx, { ok: false, reason: d.reason, detail: `dropped by the sender: ${reasonName(d.reason)}` });
  }

  private onVerified(v: ReceiverInput & { kind: 'verified' }, now: number): void {
    const p = this.phase;
    if (p.name !== 'verifying') return;
    const verdict: Verdict = { ok: v.ok, reason: v.ok ? Reason.None : v.reason, detail: v.detail };
    if (p.rx.session.async) return this.finish(p.rx, verdict); // nobody to report to
    const report = p.rx.feedback.encodeReport(v.ok, verdict.reason, v.digest, v.detail);
    this.phase = { name: 'reporting', rx: p.rx, verdict, report, reportsLeft: this.cfg.reportTries, nextReportAtMs: now };
  }

  /** Gives up: tells the sender (LEAVE) and ends. Nothing already delivered is taken back; the driver discards it. */
  private fail(reason: Reason, detail: string): void {
    const p = this.phase;
    if (p.name === 'done') return;
    const rx = p.name === 'listening' ? undefined : p.rx;
    if (rx !== undefined && !rx.session.async) rx.feedback.sendLeave(reason, detail);
    this.finish(rx, { ok: false, reason, detail });
  }

  private finish(rx: InSession | undefined, verdict: Verdict): void {
    this.phase = { name: 'done', rx, verdict };
    this.events.push({ kind: 'done', ...verdict });
  }

  // ---- the clock -------------------------------------------------------------------

  private advance(now: number): void {
    const p = this.phase;
    switch (p.name) {
      case 'done':
        return;
      case 'listening':
        if (this.startTimedOut(now)) this.fail(Reason.StartTimeout, 'no sender found before --start-timeout');
        return;
      case 'reporting':
        return this.repeatReport(p, now);
      default:
        return this.tick(p, now);
    }
  }

  private startTimedOut(now: number): boolean {
    const start = this.startDeadlineMs();
    return start !== undefined && now >= start;
  }

  /** The session's clock: the sender's silence, --start-timeout, JOIN, STATUS, NAKs. */
  private tick(p: SessionPhase, now: number): void {
    const fb = p.rx.feedback;
    if (now >= this.lastSenderAtMs + this.cfg.receiveTimeoutMs) {
      return this.fail(Reason.ReceiveTimeout, `sender silent for ${this.cfg.receiveTimeoutMs / 1000} s`);
    }
    if ((p.name === 'joining' || p.name === 'accepted') && this.startTimedOut(now)) {
      return this.fail(Reason.StartTimeout, 'transfer did not start before --start-timeout');
    }
    if ((p.name === 'joining' || (p.name === 'receiving' && !fb.accepted)) && now >= fb.nextJoinAtMs) fb.sendJoin(now);
    if (p.name !== 'joining' && now >= fb.nextStatusAtMs) this.sendStatus(p.rx, 0, now);
    if (p.name !== 'joining' && now >= fb.nextHeartbeatAtMs) fb.sendHeartbeat(p.rx.load.snapshot(now), p.rx.naks.inCatchUp, now);
    if (fb.answerDue(now)) fb.sendAnswer(p.name === 'verifying', now);
    if (p.name === 'receiving') {
      const lost = p.rx.naks.fire(now);
      if (lost !== undefined) this.fail(Reason.Unrecoverable, lost);
    }
  }

  private repeatReport(p: ReportingPhase, now: number): void {
    if (now < p.nextReportAtMs) return;
    if (p.reportsLeft-- <= 0) {
      // The sender never confirmed; our result stands on our own check.
      return this.finish(p.rx, p.verdict);
    }
    p.rx.feedback.sendReport(p.report);
    p.nextReportAtMs = now + this.cfg.reportIntervalMs;
  }

  /** STATUS says COMPLETE once everything is delivered. */
  private sendStatus(rx: InSession, flags: number, now: number, reqackId = 0): void {
    rx.feedback.sendStatus(flags, this.state === 'verifying' || this.state === 'reporting', now, reqackId);
  }

  private countDrop(code: DropCode): void {
    countDrop(this.stats, code);
  }
}
