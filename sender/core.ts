// Why over 500 lines (~840): split to 522, the dispatcher grew back with quiet sessions'
// probe rounds, the clone reports and the slow-node policy's hooks. Next to move out: the
// REQACK/END round logic ("phases and rounds" and "quiet sessions" below) into
// sender/core/rounds.ts, and the catch-up moves into sender/core/slow-policy.ts.
//
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
//                with --streaming taken late (see below).
//   ending       every slice sent once and the digest known: END repeats every
//                endIntervalMs; repairs go on until each receiver reported or was dropped.
//   done         every receiver is resolved (verified, failed, left or dropped). With
//                --clone-reports the 'done' event waits until the clone agents of the
//                receivers that verified sent their CLONE_REPORT, or the wait ran out;
//                only CLONE_REPORTs are answered meanwhile (an abort ends the wait).
//
// Feedback (docs/ARCHITECTURE.md, "How feedback scales"): with at most
// maxReportingReceivers at START every receiver reports its progress as it goes, and a
// REQACK goes out only while the window is full. With more, the session is quiet: the
// receivers keep silent unless a probe round (probe.ts, a REQACK with thresholds, every
// quarter window of DATA and at once when the window shuts) finds them behind, and send a
// STATUS heartbeat; the sender counts a round's silence as progress. Either way the work
// per DATA and per datagram received is O(1) or O(log receivers); only the REQACK/END
// rounds (tens of milliseconds apart) walk every receiver.
//
// Late receivers (--streaming): a JOIN after START is taken with the slice the first
// pass is about to send (ACCEPT's joinSlice J). The receiver takes J.. live with the
// others, then asks for the head 0..J-1 by NAK. A head slice no longer held is re-read
// from the source (the driver answers pollReload() with a 'reload' input), and a stripe
// the receiver has nothing of is answered with its own data blocks, not k parity.
//
// The catch-up pass (cfg.catchUp: the source can be read again): a receiver the slow-node
// policy finds too slow for the rack (sender/core/slow-policy.ts, judged in REQACK rounds)
// is told so (CATCHUP) and from then on holds back neither the flow window nor retention;
// it keeps what it can of the first pass, in order, and asks for nothing. Once the first
// pass is over (ending), it asks for the rest by NAK like a late receiver's head: slices
// re-read from the source, answered with their data blocks, paced by the flow window of
// the receivers still being served. With --streaming, a late receiver whose output takes
// the image only in order (JOIN's CAP_IN_ORDER) joins the catch-up pass at once and takes
// the whole image there.
//
// This file is the dispatcher: it decodes each datagram once, routes it, and runs the
// phases and the REQACK/END rounds. The parts it dispatches to live beside it in
// sender/core/, each owning its state and saying at its top what holds:
//   config.ts        SenderConfig and its checks (it takes roster.ts's RosterHost)
//   stats.ts         the counters and their initial value
//   timers.ts        the timer table; pollTimeout() is its earliest armed timer
//   roster.ts        the hosts --hosts lists, and which receivers are whose
//   announce.ts      when announcing ends (key, --min-receivers or --hosts, --min-wait,
//                    --max-wait), and when the sender gives up (--start-timeout)
//   pacer.ts         the token bucket (--max-bitrate)
//   transmit.ts      building DATA (header ring, sequence numbers) and the control queue
//   min-heap.ts      an indexed min-heap (the least progress over the receivers, kept as it changes)
//   participants.ts  the receivers: admission, progress, rounds, the flow-window minimum
//   flow.ts          the flow window: its size from START, open or shut
//   probe.ts         a quiet session's probe rounds: silence that counts as "not behind"
//   slices.ts        the slices held (retention), the first pass, the end of the source
//   repair.ts        NAK -> repair: parity bursts and data resends, in NAK order
//   reload.ts        slices re-read: a late receiver's head (--streaming), the catch-up pass
//   health.ts        each receiver's figures from its HEARTBEATs (rates, loss, what limits it)
//   slow-policy.ts   who stops holding the first pass back and goes to the catch-up pass
//   clone-reports.ts the clone agents' CLONE_REPORTs and the wait for them (--clone-reports)
// Each imports only protocol/ and the files above it in this list, never this one.

import { decodeDatagram } from '../protocol/codec.js';
import type { Endpoint } from '../protocol/endpoint.js';
import { CAP_IN_ORDER, MessageType } from '../protocol/header.js';
import { CatchUpWhy } from '../protocol/messages/catch-up.js';
import type { CloneReport } from '../protocol/messages/clone-report.js';
import { DROP_ALL } from '../protocol/messages/drop.js';
import type { Heartbeat } from '../protocol/messages/heartbeat.js';
import type { Join } from '../protocol/messages/join.js';
import type { Leave } from '../protocol/messages/leave.js';
import type { Nak } from '../protocol/messages/nak.js';
import type { Report } from '../protocol/messages/report.js';
import type { Status } from '../protocol/messages/status.js';
import { Reason } from '../protocol/reasons.js';
import { StartGate } from './core/announce.js';
import { type CloneReportState, CloneReports } from './core/clone-reports.js';
import { checkSenderConfig, MAX_STRIPE_BLOCKS, type SenderConfig } from './core/config.js';
import { FlowWindow } from './core/flow.js';
import { Pacer } from './core/pacer.js';
import { Participants, type ReceiverRecord, type ReceiverState } from './core/participants.js';
import { ProbeRounds } from './core/probe.js';
import { ReloadTable } from './core/reload.js';
import { RepairScheduler } from './core/repair.js';
import { Roster, type RosterHost } from './core/roster.js';
import { SliceStore } from './core/slices.js';
import { SlowPolicy } from './core/slow-policy.js';
import { countDrop, newSenderStats, type SenderStats } from './core/stats.js';
import { Timer, TimerTable } from './core/timers.js';
import { HEADER_RING, MAX_CONTROL_QUEUE, seqOfCount, type Transmit, Transmitter } from './core/transmit.js';

export type { CloneReport, CloneReportState, Endpoint, ReceiverRecord, ReceiverState, RosterHost, SenderConfig, SenderStats, Transmit };
export { HEADER_RING, MAX_CONTROL_QUEUE, MAX_STRIPE_BLOCKS };

export type SenderInput =
  | { readonly kind: 'datagram'; readonly from: Endpoint; readonly bytes: Uint8Array }
  /** Enter on the sender's terminal. */
  | { readonly kind: 'start' }
  /**
   * The next slice of the image: fullSliceBytes except the last. Only after wantsSlice() said
   * yes (a driver reads while the core runs on: see wantsSlice); once the session is done it
   * is discarded.
   */
  | { readonly kind: 'slice'; readonly bytes: Uint8Array }
  /** The source ended; digest is the SHA-256 of every byte given in slices. */
  | { readonly kind: 'eof'; readonly digest: Uint8Array }
  /** Slice `sliceNo` read again from the source, as pollReload() asked (--streaming). */
  | { readonly kind: 'reload'; readonly sliceNo: number; readonly bytes: Uint8Array }
  /** Stop now (signal, source error): every receiver is told. */
  | { readonly kind: 'abort'; readonly detail: string };

export type SenderEvent =
  /** joinSlice > 0: a late receiver (--streaming), which gets the head 0..joinSlice-1 by repair. */
  | {
      readonly kind: 'joined';
      readonly receiverId: number;
      readonly address: string;
      /** Its --hosts line, or undefined without --hosts. */
      readonly host: string | undefined;
      readonly rcvBufBytes: number;
      readonly joinSlice: number;
    }
  | { readonly kind: 'started'; readonly receivers: number; readonly windowPackets: number }
  /**
   * The receiver goes to the catch-up pass: the slow-node policy found it too slow (rates in
   * bytes per second: its own, and the pace it fell below), or it joined late and takes the
   * image only in order (rates 0).
   */
  | { readonly kind: 'movedToCatchUp'; readonly receiverId: number; readonly why: CatchUpWhy; readonly rateBps: number; readonly paceBps: number }
  /** The first pass is over: the catch-up pass begins for this receiver. */
  | { readonly kind: 'catchUpBegan'; readonly receiverId: number }
  /** --start-timeout passed before the session started: it ends now (a 'done' follows), nothing was sent. */
  | { readonly kind: 'startTimedOut'; readonly receivers: number }
  | { readonly kind: 'dropped'; readonly receiverId: number; readonly reason: Reason; readonly detail: string }
  | { readonly kind: 'reported'; readonly receiverId: number; readonly ok: boolean; readonly detail: string }
  | { readonly kind: 'left'; readonly receiverId: number; readonly reason: Reason; readonly detail: string }
  | { readonly kind: 'ending'; readonly totalBytes: number; readonly totalSlices: number }
  /** A clone agent's CLONE_REPORT, the first from that receiver (repeats are only counted). */
  | { readonly kind: 'clone-reported'; readonly receiverId: number; readonly report: CloneReport }
  /** --async --carousel: pass `pass` (2..carouselPasses) begins; the driver reads the image again from slice 0. */
  | { readonly kind: 'pass'; readonly pass: number }
  | { readonly kind: 'done'; readonly ok: boolean };

type Phase = 'announcing' | 'transferring' | 'ending' | 'done';

/** --async: END copies sent (endIntervalMs apart) before the sender is done. */
const ASYNC_END_COPIES = 5;
/**
 * A quiet session sends END this many times when the first pass is over: its receivers do
 * not answer END (a STATUS from each would be N datagrams a round), so a copy costs one
 * datagram, and a receiver that lost END would wait a whole endIntervalMs for the next.
 */
const QUIET_END_COPIES = 3;

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
  private readonly slowPolicy: SlowPolicy;
  private readonly probe: ProbeRounds;
  private readonly cloneReports: CloneReports;
  /** Transferring: since when DATA waits for the receivers (a REQACK round is due). */
  private blockedSinceMs: number | undefined;
  private doneOk: boolean | undefined;
  /** ENDs sent before 'ending' (one between the passes of a carousel): --async counts its copies after. */
  private endsBeforeEnding = 0;

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
    this.flow = new FlowWindow(cfg, this.participants, this.tx);
    this.slices = new SliceStore(cfg, this.stats);
    this.repair = new RepairScheduler(cfg, this.stats, this.slices, this.tx);
    this.reload = new ReloadTable(cfg, this.stats, this.slices);
    this.slowPolicy = new SlowPolicy(cfg);
    this.probe = new ProbeRounds(cfg, this.participants, this.tx, seqOfCount);
    this.cloneReports = new CloneReports(cfg, this.stats);
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
    return this.roster.hostsWith((id) => this.participants.get(id)?.state === 'active');
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
        this.onReload(input.sliceNo, input.bytes, now);
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
    if (!this.hasDataReady() || !this.flowOpen()) {
      this.noteBlocked(now);
      return undefined;
    }
    if (!this.pacer.trySend(now)) return undefined;
    const t = this.repair.next() ?? this.nextFirstPass();
    if (t !== undefined) {
      this.stats.dataPackets++;
      this.stats.dataBytes += t.bytes;
      if (this.participants.quiet && this.probe.dataSent(this.probeEveryPackets())) this.beginProbe(now);
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
        this.onJoin(from, m.msg, now);
        return true;
      case MessageType.Status:
        return this.withReceiver(from, m.msg.receiverId, now, (rcv) => this.onStatus(rcv, m.msg, now));
      case MessageType.Nak:
        return this.withReceiver(from, m.msg.receiverId, now, (rcv) => this.onNak(rcv, m.msg, now));
      case MessageType.Report:
        return this.withReceiver(from, m.msg.receiverId, now, (rcv) => this.onReport(rcv, m.msg, now));
      case MessageType.Leave:
        return this.withReceiver(from, m.msg.receiverId, now, (rcv) => this.onLeave(rcv, m.msg, now));
      case MessageType.CloneReport:
        return this.withReceiver(from, m.msg.receiverId, now, (rcv) => this.onCloneReport(rcv, m.msg, from));
      case MessageType.Heartbeat:
        return this.withReceiver(from, m.msg.receiverId, now, (rcv) => this.onHeartbeat(rcv, m.msg, now));
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

  private onJoin(from: Endpoint, join: Join, now: number): void {
    this.stats.joinsReceived++;
    if (this.cfg.async) return; // async receivers never join; a JOIN is a stray
    const known = this.participants.get(join.receiverId);
    if (known !== undefined) {
      // Our ACCEPT was lost: say it again (only to the address that joined).
      if (known.address === from.address && known.state === 'active') this.tx.accept(join.receiverId, known.joinSlice, known.endpoint);
      return;
    }
    const late = this.phase !== 'announcing';
    // Late and in order: the whole image in the catch-up pass, which it must be able to have.
    const inOrder = late && (join.caps & CAP_IN_ORDER) !== 0;
    const host = this.roster.hostOf(from.address, undefined);
    const refusal =
      late && (!this.cfg.streaming || this.phase === 'done' || (inOrder && !this.cfg.catchUp))
        ? Reason.LateJoin
        : this.roster.listed && host === undefined
          ? Reason.NotListed
          : inOrder && !this.participants.catchUpHasRoom()
            ? Reason.SessionFull
            : this.participants.refusal(join);
    if (refusal !== undefined) {
      this.stats.joinsRefused++;
      this.tx.drop(join.receiverId, refusal, from);
      return;
    }
    // A late receiver takes the slices from the one the first pass is about to start on: it
    // holds back neither the flow window (it has seen everything sent) nor retention.
    const joinSlice = late ? this.slices.lateJoinSlice() : 0;
    if (late) this.stats.lateJoins++;
    const hostName = host === undefined ? undefined : this.roster.nameOf(host);
    this.participants.add(join, from, hostName, joinSlice, late ? this.tx.lastSeq : 0, late ? this.tx.sentCount : 0, now);
    if (host !== undefined) this.roster.attach(host, join.receiverId);
    this.startGate.joined(now);
    this.tx.accept(join.receiverId, joinSlice, from);
    this.events.push({
      kind: 'joined',
      receiverId: join.receiverId,
      address: from.address,
      host: hostName,
      rcvBufBytes: join.rcvBufBytes,
      joinSlice,
    });
    if (inOrder) this.moveToCatchUp(this.participants.get(join.receiverId)!, CatchUpWhy.LateInOrder, 0, 0, now);
  }

  /** `rcv` stops holding the first pass back and gets what it lacks in the catch-up pass. */
  private moveToCatchUp(rcv: ReceiverRecord, why: CatchUpWhy, rateBps: number, paceBps: number, now: number): void {
    this.participants.moveToCatchUp(rcv, why, now);
    this.stats.movedToCatchUp++;
    this.tellCatchUp(rcv, rateBps, paceBps, now);
    this.events.push({ kind: 'movedToCatchUp', receiverId: rcv.id, why, rateBps, paceBps });
    if (this.phase === 'ending') this.events.push({ kind: 'catchUpBegan', receiverId: rcv.id });
    // Retention it held back is free now.
    this.freeDelivered();
  }

  /** CATCHUP to `rcv` (twice: it is cheap, and a lost one costs its NAKs until it is told again). */
  private tellCatchUp(rcv: ReceiverRecord, rateBps: number, paceBps: number, now: number): void {
    for (let i = 0; i < 2; i++) this.tx.catchUp(rcv.id, rcv.catchUpWhy ?? CatchUpWhy.Slow, rateBps, paceBps);
    rcv.catchUpToldAtMs = now;
  }

  private onStatus(rcv: ReceiverRecord, st: Status, now: number): void {
    this.stats.statusReceived++;
    this.participants.status(rcv, st, this.tx.lastSeq, this.tx.sentCount, this.slices.nextSliceNo, now);
    if (st.reqackId !== 0 && rcv.state === 'active') this.probe.answer(rcv, st.reqackId, this.participants.seenAbsOf(rcv));
  }

  private onNak(rcv: ReceiverRecord, nak: Nak, now: number): void {
    this.stats.naksReceived++;
    this.answerNak(rcv, nak, now);
  }

  /** A NAK as it arrives, or again once the head slice it asked for is reloaded. */
  private answerNak(rcv: ReceiverRecord, nak: Nak, now: number): void {
    if (rcv.state !== 'active' || nak.need.length !== this.cfg.stripes) {
      this.stats.naksIgnored++;
      return;
    }
    if (rcv.catchUp && this.phase === 'transferring') {
      // Nothing is repaired for it before the first pass is over: it did not hear (or
      // forgot) that it is in the catch-up pass. Told again, at most every endIntervalMs.
      this.stats.catchUpNaksIgnored++;
      if (now - rcv.catchUpToldAtMs >= this.cfg.endIntervalMs) this.tellCatchUp(rcv, 0, 0, now);
      return;
    }
    const slice = this.slices.get(nak.sliceNo);
    const head = this.cfg.streaming && nak.sliceNo < rcv.joinSlice;
    if (slice === undefined && (head || rcv.catchUp) && nak.sliceNo < this.slices.baseSlice) {
      // A late receiver's head, or the catch-up pass, no longer held: read it again, then answer this NAK.
      if (!this.reload.want(nak)) this.stats.naksIgnored++;
      return;
    }
    // A slice already freed (every receiver had it) or not yet sent in full cannot be asked for.
    if (slice === undefined || slice.nextBlock < slice.firstPassCount) {
      this.stats.naksIgnored++;
      return;
    }
    this.repair.answer(slice, nak, now);
  }

  private onReload(sliceNo: number, bytes: Uint8Array, now: number): void {
    const nak = this.reload.take(sliceNo, bytes, this.phase === 'done');
    if (nak === undefined) return;
    const rcv = this.participants.get(nak.receiverId);
    if (rcv !== undefined) this.answerNak(rcv, nak, now);
  }

  private onReport(rcv: ReceiverRecord, rep: Report, now: number): void {
    // Always acknowledge: the receiver repeats its REPORT until it hears this.
    this.tx.reportAck(rcv.id, rcv.endpoint);
    const r = this.participants.report(rcv, rep, this.slices.eof, now);
    if (r !== undefined) this.events.push({ kind: 'reported', receiverId: rcv.id, ok: r.ok, detail: r.detail });
  }

  private onLeave(rcv: ReceiverRecord, leave: Leave, now: number): void {
    const detail = this.participants.leave(rcv, leave, now);
    if (detail !== undefined) this.events.push({ kind: 'left', receiverId: rcv.id, reason: leave.reason, detail });
  }

  private onCloneReport(rcv: ReceiverRecord, rep: CloneReport, from: Endpoint): void {
    // Always acknowledge, also a repeat: the agent repeats its report until it hears this.
    this.tx.cloneReportAck(rcv.id, from);
    if (this.cloneReports.take(rcv.id, rep)) this.events.push({ kind: 'clone-reported', receiverId: rcv.id, report: rep });
  }

  /** A receiver's health report: figures for the table and the slow-node policy, nothing else. */
  private onHeartbeat(rcv: ReceiverRecord, hb: Heartbeat, now: number): void {
    this.stats.heartbeatsReceived++;
    this.participants.heartbeat(rcv, hb, now);
  }

  // ---- phases and rounds -------------------------------------------------------

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
      if (this.startGate.shouldStart(now, this.participants.activeCount(), this.enoughJoined())) {
        this.start(now);
      } else if (now >= (this.startGate.giveUpAt() ?? Infinity)) {
        this.giveUp(now);
        return;
      }
    }
    if (this.participants.quiet) this.tickProbe(now);
    if (this.phase === 'transferring') {
      // A NAK may have arrived for slices whose space is needed: free what everyone has.
      this.freeDelivered();
      this.noteBlocked(now);
      this.maybeEnd(now);
    } else if (this.phase === 'ending') {
      this.freeDelivered();
    }
    if (this.timers.expired(Timer.Round, now)) this.round(now);
    if (!this.cfg.async && (this.phase === 'transferring' || this.phase === 'ending') && this.participants.activeCount() === 0) {
      this.finish(now);
    }
  }

  /** Everyone the start waits for is here: --min-receivers of them, or a receiver of every host --hosts lists. */
  private enoughJoined(): boolean {
    if (this.roster.listed) return this.hostsJoined() === this.roster.size;
    return this.cfg.minReceivers > 0 && this.participants.activeCount() >= this.cfg.minReceivers;
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
    if (!this.cfg.async && receivers > this.cfg.maxReportingReceivers) {
      // A quiet session: the first round tells the receivers so (and the heartbeat); it
      // asks nothing (nobody is behind slice 0), so it costs one datagram and no answer.
      this.participants.goQuiet(now);
      this.probe.begin(now, 0, 0, receivers);
    }
    this.events.push({ kind: 'started', receivers, windowPackets });
  }

  // ---- quiet sessions: probe rounds ------------------------------------------------

  /** A round every quarter window of DATA: the credit must grow as fast as the data goes. */
  private probeEveryPackets(): number {
    return Math.max(1, Math.floor(this.flow.windowPackets / 4));
  }

  /**
   * A probe round asking what the sender needs to keep going: receivers that have not read
   * what went out an eighth of a window ago, or hold fewer slices than the first pass less a
   * quarter of the retention (`endRound`: fewer than all), answer. An eighth: a round's
   * credit is the lesser of its thresholds and those of the round before (a quarter window
   * earlier), so the window stays open three eighths past the credit, more than a round
   * takes to end; and a receiver keeping up lags by what is in flight, far less. Only the
   * END round (every endIntervalMs) asks for all slices: when END goes out, a thousand
   * receivers are still repairing their last slices, and a round asking for all of them
   * then would be answered by hundreds at once; endIntervalMs later, only the stuck answer.
   */
  private beginProbe(now: number, endRound = false): void {
    if (this.probe.inProgress) return;
    const needAbs = this.tx.sentCount - Math.floor(this.flow.windowPackets / 8);
    const end = this.slices.eof;
    const needSlices = endRound && end !== undefined ? end.totalSlices : this.slices.sendSliceNo - Math.max(1, Math.floor(this.cfg.retainSlices / 4));
    this.probe.begin(now, needAbs, needSlices, this.participants.activeCount());
  }

  private tickProbe(now: number): void {
    if (this.phase !== 'transferring' && this.phase !== 'ending') return;
    this.participants.expireSilent(now, this.probe.liveMs);
    if (this.probe.tick(now)) this.freeDelivered();
    // DATA (or a repair) waits for the window: ask now rather than at the next round.
    if (!this.probe.inProgress && this.hasDataReady() && !this.flowOpen()) this.beginProbe(now);
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
      this.sendEnd();
      this.slices.restartPass();
      // Ahead of the pass's first DATA: a receiver must know whether this pass is the last.
      this.tx.hello(false, this.slices.pass < this.cfg.carouselPasses, this.slices.compressed);
      this.timers.set(Timer.Hello, now + this.cfg.helloIntervalMs);
      this.events.push({ kind: 'pass', pass: this.slices.pass });
      return;
    }
    this.phase = 'ending';
    this.endsBeforeEnding = this.stats.ends;
    this.events.push({ kind: 'ending', totalBytes: end.totalBytes, totalSlices: end.totalSlices });
    for (const r of this.participants.list()) if (r.state === 'active' && r.catchUp) this.events.push({ kind: 'catchUpBegan', receiverId: r.id });
    const copies = this.participants.quiet ? QUIET_END_COPIES : 1;
    for (let i = 0; i < copies; i++) this.sendEnd();
    this.timers.set(Timer.Round, now + this.cfg.endIntervalMs);
  }

  /**
   * One REQACK (window full) or END (ending) round: receivers that hold things back and
   * made no progress since the last round get a retry counted; past the limit they are
   * dropped, so one dead or stuck node cannot hold the rack (udpcast's --retries-until-drop).
   */
  private round(now: number): void {
    this.timers.stop(Timer.Round);
    if (this.phase === 'ending' && this.cfg.async) {
      // Nobody answers: END goes out ASYNC_END_COPIES times, then the sender is done.
      if (this.stats.ends - this.endsBeforeEnding >= ASYNC_END_COPIES) {
        this.finish(now);
      } else {
        this.sendEnd();
        this.timers.set(Timer.Round, now + this.cfg.endIntervalMs);
      }
      return;
    }
    const quiet = this.participants.quiet;
    if (this.phase === 'ending') {
      for (const rcv of this.participants.endRound(this.probe.lastEnded, now, this.probe.liveMs)) this.dropNoAnswer(rcv, now);
      if (this.phase === 'ending') {
        this.sendEnd();
        // Quiet: END is not answered; a probe round finds who still misses slices.
        if (quiet) this.beginProbe(now, true);
        this.timers.set(Timer.Round, now + this.cfg.endIntervalMs);
      }
      return;
    }
    if (this.phase !== 'transferring' || this.blockedSinceMs === undefined || !this.isBlocked()) return;
    const needSlices = this.slices.baseSlice + 1;
    const { over, behind } = this.participants.reqackRound(this.tx.sentCount, needSlices, this.probe.lastEnded);
    for (const rcv of over) this.dropNoAnswer(rcv, now);
    // Whoever holds the first pass back and is too slow for the rack goes to the catch-up
    // pass, while it has room (participants.ts: MAX_CATCH_UP); past that the rack keeps
    // their pace, as without a catch-up pass.
    for (const d of this.slowPolicy.round(this.participants.firstPassReceivers(), behind, now)) {
      if (!this.participants.catchUpHasRoom()) break;
      this.moveToCatchUp(d.rcv, d.why, d.rateBps, d.paceBps, now);
    }
    // Quiet: the probe rounds ask (tickProbe starts one as soon as the window shuts).
    if (!quiet) this.tx.reqack(needSlices, this.tx.lastSeq, this.participants.activeCount());
    else this.beginProbe(now);
    this.timers.set(Timer.Round, now + this.cfg.reqackIntervalMs);
  }

  /** Past the retry limit in a round (udpcast's --retries-until-drop). */
  private dropNoAnswer(rcv: ReceiverRecord, now: number): void {
    const reason = Reason.NoAnswer;
    const detail = `no answer after ${this.cfg.retriesUntilDrop} retries`;
    this.participants.drop(rcv, reason, detail, now);
    this.tx.drop(rcv.id, reason);
    this.events.push({ kind: 'dropped', receiverId: rcv.id, reason, detail });
    this.freeDelivered();
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

  private sendEnd(): void {
    const end = this.slices.eof;
    if (end !== undefined) this.tx.end(end);
  }

  // ---- flow control, retention and timers ------------------------------------------

  /**
   * Blocked: DATA is ready but the flow window is full, or the first pass caught up with
   * the source and the retention window is full (the slowest receiver has not taken the
   * oldest slice). Either way only the receivers can unblock it, so a REQACK round starts.
   */
  private isBlocked(): boolean {
    if (this.phase !== 'transferring') return false;
    if (this.hasDataReady()) return !this.flowOpen();
    return this.slices.eof === undefined && this.slices.windowFull();
  }

  private noteBlocked(now: number): void {
    if (!this.isBlocked()) {
      this.blockedSinceMs = undefined;
    } else if (this.blockedSinceMs === undefined) {
      this.blockedSinceMs = now;
      this.stats.windowStalls++;
      this.scheduleRound(now + this.cfg.reqackIntervalMs);
    }
  }

  private scheduleRound(at: number): void {
    const t = this.timers.get(Timer.Round);
    if (t === undefined || at < t) this.timers.set(Timer.Round, at);
  }

  private freeDelivered(): void {
    // Without a receiver to repair for (async, or all gone, or only catch-up receivers, who
    // get what they lack read again), a slice is free once sent.
    this.slices.freeBelow(this.participants.minDelivered());
  }

  /** The flow window: the catch-up receivers pace it only once the first pass is over. */
  private flowOpen(): boolean {
    return this.flow.open(this.phase === 'ending');
  }

  private hasDataReady(): boolean {
    return this.repair.stripesQueued > 0 || this.slices.firstPassReady();
  }

  private nextFirstPass(): Transmit | undefined {
    const sending = this.slices.sendSliceNo;
    const t = this.slices.nextFirstPass(this.tx);
    // A slice's first pass is over: what every receiver has can go.
    if (this.slices.sendSliceNo !== sending) this.freeDelivered();
    return t;
  }

  /** Start and Pace, from the state they follow (sender/core/timers.ts); none once done. */
  private rearmTimers(): void {
    if (this.phase === 'done') return;
    const announcing = this.phase === 'announcing';
    this.timers.set(Timer.Start, announcing ? this.startGate.deadline(this.participants.activeCount(), this.enoughJoined()) : undefined);
    this.timers.set(Timer.GiveUp, announcing ? this.startGate.giveUpAt() : undefined);
    // The refill time counts only while the flow window is open: with it shut, the bucket is
    // not what holds DATA back and is not refilled, so its (past) refill time would wake the
    // driver at once, again and again, until a STATUS opens the window.
    this.timers.set(Timer.Pace, this.pacer.paced && this.hasDataReady() && this.flowOpen() ? this.pacer.readyAt() : undefined);
    this.timers.set(Timer.Probe, this.participants.quiet ? this.probe.nextTimeoutMs() : undefined);
  }
}
