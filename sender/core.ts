// The sender's protocol engine: a sans-IO state machine (quinn's model). It is fed
// datagrams, slices of the image and the clock; it hands back datagrams to send
// (`pollTransmit`), the next time it wants to be woken (`pollTimeout`) and events for
// the driver to log (`pollEvent`). No sockets, timers or clocks in here.
//
// Phases (what holds in each):
//   announcing   HELLO goes out every helloIntervalMs; JOINs are accepted (ACCEPT back).
//                Ends by key press, --min-receivers (+ --min-wait) or --max-wait.
//   transferring START sent; slices are sent once in order (first pass), paced and
//                flow-controlled; NAKs are answered with fresh parity; joins refused, or
//                with --streaming taken late (sender/core/admission.ts).
//   ending       every slice sent once and the digest known: END repeats every
//                endIntervalMs; repairs go on until each receiver reported or was dropped.
//   done         every receiver is resolved (verified, failed, left or dropped). With
//                --clone-reports the 'done' event waits until the clone agents of the
//                receivers that verified sent their CLONE_REPORT, or the wait ran out;
//                only CLONE_REPORTs are answered meanwhile (an abort ends the wait).
//
// This file is the dispatcher: it decodes each datagram once, routes it, and runs the
// phases. The parts it dispatches to live beside it in sender/core/, each owning its state
// and saying at its top what holds:
//   roster.ts        the hosts --hosts lists, and which receivers are whose
//   config.ts        SenderConfig and its checks
//   stats.ts         the counters and their initial value
//   events.ts        SenderInput, SenderEvent and the phases
//   timers.ts        the timer table; pollTimeout() is its earliest armed timer
//   announce.ts      when announcing ends (key, --min-receivers or --hosts, --min-wait,
//                    --max-wait), and when the sender gives up (--start-timeout)
//   pacer.ts         the token bucket (--max-bitrate)
//   transmit.ts      building DATA (header ring, sequence numbers) and the control queue
//   clone-reports.ts the clone agents' CLONE_REPORTs and the wait for them (--clone-reports)
//   min-heap.ts      an indexed min-heap (the least progress over the receivers, kept as it changes)
//   least-progress.ts the least progress over the receivers served; a quiet session's credit
//   health.ts        each receiver's figures from its HEARTBEATs (rates, loss, what limits it)
//   participants.ts  the receivers: admission limits, progress, outcomes, retries in rounds
//   slices.ts        the slices held (retention), the first pass, the end of the source
//   repair.ts        NAK -> repair: parity bursts and data resends, in NAK order
//   flow.ts          the flow window and retention: what DATA waits for
//   drops.ts         dropping a receiver mid-session, whatever the cause
//   probe.ts         a quiet session's probe rounds: silence that counts as "not behind"
//   reload.ts        slices re-read: a late receiver's head (--streaming), the catch-up pass
//   slow-policy.ts   the catch-up pass: who stops holding the first pass back, and the moves
//   nak-router.ts    where a NAK goes: ignored, CATCHUP again, a reload, or a repair
//   admission.ts     who may join, and as what (late, in order, which host)
//   feedback.ts      what a known receiver sends: STATUS, NAK, REPORT, LEAVE, HEARTBEAT, ...
//   rounds.ts        the REQACK and END rounds, and when a quiet session probes
// Each imports only protocol/ and the files above it in this list, never this one.

import { decodeDatagram } from '../protocol/codec.js';
import type { Endpoint } from '../protocol/endpoint.js';
import { MessageType } from '../protocol/header.js';
import type { CloneReport } from '../protocol/messages/clone-report.js';
import { DROP_ALL } from '../protocol/messages/drop.js';
import { Reason } from '../protocol/reasons.js';
import { Admission } from './core/admission.js';
import { StartGate } from './core/announce.js';
import { type CloneReportState, CloneReports } from './core/clone-reports.js';
import { checkSenderConfig, MAX_STRIPE_BLOCKS, type SenderConfig } from './core/config.js';
import { Drops } from './core/drops.js';
import type { Phase, SenderEvent, SenderInput } from './core/events.js';
import { Feedback } from './core/feedback.js';
import { FlowWindow } from './core/flow.js';
import { NakRouter } from './core/nak-router.js';
import { Pacer } from './core/pacer.js';
import { Participants, type ReceiverRecord, type ReceiverState } from './core/participants.js';
import { ProbeRounds } from './core/probe.js';
import { ReloadTable } from './core/reload.js';
import { RepairScheduler } from './core/repair.js';
import { Roster, type RosterHost } from './core/roster.js';
import { Rounds } from './core/rounds.js';
import { SliceStore } from './core/slices.js';
import { CatchUpPass } from './core/slow-policy.js';
import { countDrop, newSenderStats, type SenderStats } from './core/stats.js';
import { Timer, TimerTable } from './core/timers.js';
import { HEADER_RING, MAX_CONTROL_QUEUE, seqOfCount, type Transmit, Transmitter } from './core/transmit.js';

export type {
  CloneReport,
  CloneReportState,
  Endpoint,
  ReceiverRecord,
  ReceiverState,
  RosterHost,
  SenderConfig,
  SenderEvent,
  SenderInput,
  SenderStats,
  Transmit,
};
export { HEADER_RING, MAX_CONTROL_QUEUE, MAX_STRIPE_BLOCKS };

export class SenderCore {
  readonly stats: SenderStats = newSenderStats();

  private phase: Phase = 'announcing';
  private readonly events: SenderEvent[] = []; // drained by the driver every turn; bounded by the receivers' events
  private readonly timers = new TimerTable();
  private readonly startGate: StartGate;
  private readonly roster: Roster;
  private readonly pacer: Pacer;
  private readonly tx: Transmitter;
  private readonly participants: Participants;
  private readonly flow: FlowWindow;
  private readonly slices: SliceStore;
  private readonly repair: RepairScheduler;
  private readonly reload: ReloadTable;
  private readonly probe: ProbeRounds;
  private readonly catchUp: CatchUpPass;
  private readonly admission: Admission;
  private readonly naks: NakRouter;
  private readonly feedback: Feedback;
  private readonly rounds: Rounds;
  private readonly cloneReports: CloneReports;
  private doneOk: boolean | undefined;

  constructor(
    private readonly cfg: Readonly<SenderConfig>,
    now: number,
  ) {
    checkSenderConfig(cfg);
    this.timers.set(Timer.Hello, now);
    this.startGate = new StartGate(cfg, now);
    this.roster = new Roster(cfg.roster);
    this.pacer = new Pacer(cfg, this.stats, now);
    this.tx = new Transmitter(cfg, this.stats);
    this.participants = new Participants(cfg);
    this.slices = new SliceStore(cfg, this.stats, () => this.participants.activeCount());
    this.repair = new RepairScheduler(cfg, this.stats, this.slices, this.tx);
    this.flow = new FlowWindow(cfg, this.participants, this.tx, this.slices, this.repair);
    this.reload = new ReloadTable(cfg, this.stats, this.slices);
    this.probe = new ProbeRounds(cfg, this.participants, this.tx, seqOfCount);
    this.catchUp = new CatchUpPass(cfg, this.stats, this.participants, this.tx, this.flow, this.events);
    this.admission = new Admission(cfg, this.stats, this.roster, this.participants, this.slices, this.tx, this.startGate, this.catchUp, this.events);
    this.cloneReports = new CloneReports(cfg, this.stats);
    const drops = new Drops(this.participants, this.tx, this.flow, this.events);
    this.naks = new NakRouter(cfg, this.stats, this.participants, this.slices, this.reload, this.repair, this.catchUp, drops);
    this.feedback = new Feedback(this.stats, this.participants, this.tx, this.slices, this.probe, this.naks, this.cloneReports, this.events);
    this.rounds = new Rounds(cfg, this.stats, this.timers, this.tx, this.participants, this.flow, this.slices, this.probe, this.catchUp, drops);
  }

  get currentPhase(): Phase {
    return this.phase;
  }

  receiverList(): readonly Readonly<ReceiverRecord>[] {
    return this.participants.list();
  }

  /** A receiver's clone report, if its agent sent one, and what the table says of it. */
  cloneReportOf(receiverId: number): { readonly state: CloneReportState; readonly report?: CloneReport } {
    const rcv = this.participants.get(receiverId);
    return { state: this.cloneReports.state(receiverId, rcv?.state === 'verified'), report: this.cloneReports.get(receiverId) };
  }

  /** --clone-reports was given: the table has the clone columns. */
  get cloneReportsShown(): boolean {
    return this.cloneReports.waitsAtAll;
  }

  /** The hosts --hosts listed, in file order, each with its receivers (none: it never joined). */
  hostList(): readonly { readonly host: RosterHost; readonly receiverIds: readonly number[] }[] {
    return this.roster.list();
  }

  /** Hosts with a receiver in the session now (without --hosts: 0). */
  hostsJoined(): number {
    return this.admission.hostsJoined();
  }

  /**
   * How full the core's tables are (tests check the resource bounds with it): receivers
   * (<= maxReceivers), retained slices (<= retainSlices, and as many again reloaded for
   * late receivers with --streaming; reloads pending <= retainSlices), queued control datagrams (<=
   * MAX_CONTROL_QUEUE), undrained events, stripes with repairs queued (<= retainSlices *
   * stripes) and the repair datagrams they will send (<= k per stripe).
   */
  get tableSizes(): {
    receivers: number;
    slices: number;
    reloadsPending: number;
    control: number;
    events: number;
    repairStripes: number;
    repairDatagrams: number;
  } {
    return {
      receivers: this.participants.size,
      slices: this.slices.size,
      reloadsPending: this.reload.pending,
      control: this.tx.controlQueued,
      events: this.events.length,
      repairStripes: this.repair.stripesQueued,
      repairDatagrams: this.repair.datagramsQueued(),
    };
  }

  /** Image bytes taken from the source so far. */
  get bytesRead(): number {
    return this.slices.bytesRead;
  }

  get window(): number {
    return this.flow.windowPackets;
  }

  get succeeded(): boolean | undefined {
    return this.doneOk;
  }

  /**
   * The pass of the image being sent (1, or later with --carousel). From pass 2 on, the
   * driver reads slice nextSliceNo at its offset (the source was read to its end once).
   */
  get pass(): number {
    return this.slices.pass;
  }

  /** The slice the driver's next read is for. */
  get nextSliceNo(): number {
    return this.slices.nextSliceNo;
  }

  /**
   * True when the driver should read and hand over the next slice. Once true it stays true
   * until a slice or the end of the source is given, or the session is done: only a slice
   * fills the window, and the phases that want none come after the end of the source
   * ('ending') or end everything ('done'). So a read started on a yes may always be handed
   * over when it completes; a slice that arrives after the session ended (the last receiver
   * left, an abort) is dropped and counted.
   */
  wantsSlice(): boolean {
    if (!this.slices.wantsMore()) return false;
    if (this.phase !== 'transferring' && this.phase !== 'announcing') return false;
    return !this.slices.windowFull();
  }

  handle(input: SenderInput, now: number): void {
    switch (input.kind) {
      case 'datagram':
        // A datagram dropped at the checks changed nothing, so the clock need not run: its
        // per-receiver loops cost O(receivers) (4 µs a datagram with 1024 of them, as much
        // again as reading it), and a flood of junk must cost O(1) a datagram. Whatever is
        // due still runs at the driver's handleTimeout.
        if (!this.onDatagram(input.from, input.bytes, now)) return;
        break;
      case 'start':
        this.startGate.keyPress();
        break;
      case 'slice':
        if (this.phase === 'done') {
          this.stats.slicesAfterDone++;
          return;
        }
        if (!this.wantsSlice()) throw new RangeError('slice given while the sender does not want one');
        this.slices.take(input.bytes);
        break;
      case 'eof':
        this.slices.takeEnd(input.digest);
        break;
      case 'reload':
        this.naks.reloaded(input.sliceNo, input.bytes, this.phase, now);
        break;
      case 'abort':
        this.abort(input.detail, now);
        break;
    }
    this.advance(now);
  }

  /**
   * The next head slice to read again from the source for a late receiver (--streaming),
   * handed out once: answer it with a 'reload' input. Undefined while none is wanted, or
   * while the reloaded slices held fill their share (retainSlices) and none is idle yet.
   */
  pollReload(): number | undefined {
    return this.phase === 'done' ? undefined : this.reload.poll();
  }

  handleTimeout(now: number): void {
    this.advance(now);
  }

  pollEvent(): SenderEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): number | undefined {
    this.rearmTimers();
    return this.timers.nextTimeout();
  }

  pollTransmit(now: number): Transmit | undefined {
    const c = this.tx.pollControl();
    if (c !== undefined) return c;
    if (this.phase !== 'transferring' && this.phase !== 'ending') return undefined;
    if (!this.flow.dataReady()) {
      this.noteBlocked(now);
      return undefined;
    }
    // A shut window lets a few repairs by each round (flow.ts): only repairs, then.
    const open = this.flowOpen();
    if (!open && !this.flow.shutRepairReady()) {
      this.noteBlocked(now);
      return undefined;
    }
    if (!this.pacer.trySend(now)) return undefined;
    const t = open ? (this.repair.next() ?? this.nextFirstPass()) : this.repair.next();
    if (!open && t !== undefined) {
      this.flow.shutRepairSent();
      this.stats.shutWindowRepairs++;
    }
    if (t !== undefined) {
      this.stats.dataPackets++;
      this.stats.dataBytes += t.bytes;
      this.rounds.dataSent(now);
    }
    this.maybeEnd(now);
    return t;
  }

  // ---- datagrams ---------------------------------------------------------------

  /** False when the datagram was dropped (and counted) without touching any state. */
  private onDatagram(from: Endpoint, bytes: Uint8Array, now: number): boolean {
    const r = decodeDatagram(bytes);
    if (!r.ok) return countDrop(this.stats, r.code);
    const m = r.value;
    if (m.msg.sessionId !== this.cfg.sessionId) return countDrop(this.stats, 'ERR_WRONG_SESSION');
    switch (m.type) {
      case MessageType.Join:
        this.admission.join(from, m.msg, this.phase, now);
        return true;
      case MessageType.Status:
        return this.withReceiver(from, m.msg.receiverId, now, (rcv) => this.feedback.status(rcv, m.msg, now));
      case MessageType.Nak:
        return this.withReceiver(from, m.msg.receiverId, now, (rcv) => this.feedback.nak(rcv, m.msg, this.phase, now));
      case MessageType.Report:
        return this.withReceiver(from, m.msg.receiverId, now, (rcv) => this.feedback.report(rcv, m.msg, now));
      case MessageType.Leave:
        return this.withReceiver(from, m.msg.receiverId, now, (rcv) => this.feedback.leave(rcv, m.msg, now));
      case MessageType.CloneReport:
        return this.withReceiver(from, m.msg.receiverId, now, (rcv) => this.feedback.cloneReport(rcv, m.msg, from));
      case MessageType.Heartbeat:
        return this.withReceiver(from, m.msg.receiverId, now, (rcv) => this.feedback.heartbeat(rcv, m.msg, now));
      default:
        // Our own HELLO/START/END... looped back by the rendezvous group.
        return countDrop(this.stats, 'ERR_OWN');
    }
  }

  private withReceiver(from: Endpoint, id: number, now: number, fn: (rcv: ReceiverRecord) => void): boolean {
    const rcv = this.participants.get(id);
    if (rcv === undefined) return countDrop(this.stats, 'ERR_UNKNOWN_RECEIVER');
    if (rcv.address !== from.address) return countDrop(this.stats, 'ERR_FOREIGN_ADDRESS');
    if (rcv.state === 'active') this.participants.heard(rcv, now);
    else rcv.heardSinceRound = true;
    fn(rcv);
    return true;
  }

  // ---- phases ----------------------------------------------------------------

  private advance(now: number): void {
    if (this.phase === 'done') {
      if (this.cloneReports.deadline !== undefined && this.cloneReports.settled(now)) this.closeCloneReports();
      return;
    }
    if (this.timers.expired(Timer.Hello, now)) {
      this.tx.hello(this.phase === 'announcing', this.slices.pass < this.cfg.carouselPasses, this.slices.compressed);
      // Async receivers can only learn the session from HELLO: keep it frequent all along.
      this.timers.set(Timer.Hello, now + (this.phase === 'announcing' || this.cfg.async ? this.cfg.helloIntervalMs : 1000));
    }
    if (this.phase === 'announcing') {
      if (this.startGate.shouldStart(now, this.participants.activeCount(), this.admission.enoughJoined())) {
        this.start(now);
      } else if (now >= (this.startGate.giveUpAt() ?? Infinity)) {
        this.giveUp(now);
        return;
      }
    }
    if (this.participants.quiet) this.rounds.tickProbe(now, this.phase);
    if (this.phase === 'transferring') {
      // A NAK may have arrived for slices whose space is needed: free what everyone has.
      this.flow.freeDelivered();
      this.noteBlocked(now);
      this.maybeEnd(now);
    } else if (this.phase === 'ending') {
      this.flow.freeDelivered();
    }
    if (this.timers.expired(Timer.Round, now) && this.rounds.round(now, this.phase)) this.finish(now);
    if (!this.cfg.async && (this.phase === 'transferring' || this.phase === 'ending') && this.participants.activeCount() === 0) {
      this.finish(now);
    }
  }

  /** --start-timeout: nothing was sent; whoever joined is told, and the session fails. */
  private giveUp(now: number): void {
    this.events.push({ kind: 'startTimedOut', receivers: this.participants.activeCount() });
    this.participants.failActive(Reason.StartTimeout, "the transfer did not start before the sender's --start-timeout", now);
    for (let i = 0; i < 3; i++) this.tx.drop(DROP_ALL, Reason.StartTimeout);
    this.finish();
  }

  private start(now: number): void {
    this.timers.stop(Timer.GiveUp);
    this.phase = 'transferring';
    for (const r of this.participants.list()) r.health.restart();
    const windowPackets = this.flow.size();
    const receivers = this.participants.activeCount();
    for (let i = 0; i < 3; i++) this.tx.start(receivers, windowPackets);
    if (!this.cfg.async && receivers > this.cfg.maxReportingReceivers) this.rounds.goQuiet(now, receivers);
    this.events.push({ kind: 'started', receivers, windowPackets });
  }

  /**
   * The first pass is over and the digest known: END goes out in the same turn. With a
   * carousel and passes to go, the next pass begins instead (after one END, so a receiver
   * that came late learns the image's size and digest now), announced by a HELLO at once.
   */
  private maybeEnd(now: number): void {
    const end = this.slices.eof;
    if (this.phase !== 'transferring' || end === undefined || !this.slices.firstPassDone()) return;
    if (this.slices.pass < this.cfg.carouselPasses && this.slices.size === 0) {
      this.rounds.sendEnd();
      this.slices.restartPass();
      // Ahead of the pass's first DATA: a receiver must know whether this pass is the last.
      this.tx.hello(false, this.slices.pass < this.cfg.carouselPasses, this.slices.compressed);
      this.timers.set(Timer.Hello, now + this.cfg.helloIntervalMs);
      this.events.push({ kind: 'pass', pass: this.slices.pass });
      return;
    }
    this.phase = 'ending';
    this.events.push({ kind: 'ending', totalBytes: end.totalBytes, totalSlices: end.totalSlices });
    this.catchUp.firstPassOver();
    this.rounds.beginEnding(now);
  }

  private abort(detail: string, now: number): void {
    if (this.phase === 'done') {
      if (this.cloneReports.deadline !== undefined) this.closeCloneReports();
      return;
    }
    this.participants.failActive(Reason.SenderAbort, detail, now);
    // Three copies: a lost DROP would leave receivers waiting for their receive timeout.
    for (let i = 0; i < 3; i++) this.tx.drop(DROP_ALL, Reason.SenderAbort);
    this.finish();
  }

  /** The transfer is over; `now` undefined (an abort): no wait for clone reports. */
  private finish(now?: number): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.timers.stopAll();
    // Async: nobody can report; the sender succeeded when it sent everything.
    const sent = this.cfg.async ? this.slices.firstPassDone() : this.participants.size > 0;
    // Every receiver verified, and (--hosts) every host listed had one.
    const imaged = this.participants.settle() && this.roster.missing().length === 0;
    const ok = sent && imaged;
    this.doneOk = ok;
    const verified = this.participants
      .list()
      .filter((r) => r.state === 'verified')
      .map((r) => r.id);
    if (now !== undefined && this.cloneReports.open(now, verified)) {
      this.timers.set(Timer.CloneReports, this.cloneReports.deadline);
      return;
    }
    this.closeCloneReports();
  }

  /** The session is done: the clone reports' wait (if any) is over too. */
  private closeCloneReports(): void {
    this.timers.stopAll();
    this.cloneReports.close();
    this.events.push({ kind: 'done', ok: this.doneOk === true });
  }

  // ---- flow control and timers ----------------------------------------------------

  /** Transferring and blocked (sender/core/flow.ts): only the receivers can unblock it. */
  private noteBlocked(now: number): void {
    this.rounds.noteBlocked(now, this.phase === 'transferring' && this.flow.blocked());
  }

  /** The flow window: the catch-up receivers pace it only once the first pass is over. */
  private flowOpen(): boolean {
    return this.flow.open(this.phase === 'ending');
  }

  private nextFirstPass(): Transmit | undefined {
    const sending = this.slices.sendSliceNo;
    const t = this.slices.nextFirstPass(this.tx);
    // A slice's first pass is over: what every receiver has can go.
    if (this.slices.sendSliceNo !== sending) this.flow.freeDelivered();
    return t;
  }

  /** Start and Pace, from the state they follow (sender/core/timers.ts); none once done. */
  private rearmTimers(): void {
    if (this.phase === 'done') return;
    const announcing = this.phase === 'announcing';
    this.timers.set(Timer.Start, announcing ? this.startGate.deadline(this.participants.activeCount(), this.admission.enoughJoined()) : undefined);
    this.timers.set(Timer.GiveUp, announcing ? this.startGate.giveUpAt() : undefined);
    // The refill time counts only while the flow window is open: with it shut, the bucket is
    // not what holds DATA back and is not refilled, so its (past) refill time would wake the
    // driver at once, again and again, until a STATUS opens the window.
    this.timers.set(Timer.Pace, this.pacer.paced && this.flow.dataReady() && this.flowOpen() ? this.pacer.readyAt() : undefined);
    this.timers.set(Timer.Probe, this.participants.quiet ? this.probe.nextTimeoutMs() : undefined);
  }
}
