// The sans-IO core of `udp-sender --protocol udpcast`: serves stock udp-receivers (Debian's
// udpcast 20120424 and later, as shipped in FOG and Clonezilla boot images) in udpcast's own
// protocol (docs/udpcast-wire.md; the codecs are in protocol/udpcast/). It is fed datagrams,
// source slices and the clock, and hands back datagrams to send and when to wake:
// handle(event, now), handleTimeout(now), pollTransmit(now), pollTimeout(), pollEvent().
// It owns no socket, timer or clock (sender/udpcast/driver.ts does).
//
// Phases, and what holds in each:
//   waiting  HELLO every helloIntervalMs to the rendezvous address; every CONNECT_REQ gets a
//            CONNECT_REPLY (clNr stable per IP, as udpcast keys participants by IP). Ends at
//            a key press, a GO, or the min/max-wait rules, after a grace since the last
//            CONNECT_REPLY so the newest receiver has joined the data group. udpcast has no
//            START message: the first DATA is the start.
//   sending  Slices 0, 1, 2, … of sliceBlocks blocks (the last one short). Each: its data
//            blocks (and --fec's parity), then REQACK rounds until every live receiver said
//            OK. At most maxInFlightSlices are unacknowledged: a stock receiver exits
//            ("Dropped by server") at a slice more than two past its last complete one.
//            Repairs per round: see core/slice.ts. CONNECT_REQs are ignored (a stock receiver
//            cannot join late: it expects slice 0).
//   ending   Every data slice is acknowledged; a zero-byte slice's REQACK asks each receiver
//            to confirm the end. Repeated to the group and unicast to each receiver that has
//            not answered: a stock receiver that has seen the end listens only to unicast
//            (docs/udpcast-wire.md §7, quirk 2).
//   done     Every receiver confirmed the end, left or was dropped.
//
// A receiver that answers nothing for retriesUntilDrop REQACK rounds, or does not finish a
// slice within retriesUntilDrop rounds, is dropped and the others go on (udpcast's own
// sender waits about 190 s per dead receiver and does not say so in its exit status).
// Stock receivers send no digest: a receiver that confirmed the end is "complete", never
// "verified".
//
// This file is the dispatcher: it decodes each datagram once, routes it, and runs the
// slices' REQACK rounds. Its parts live in sender/udpcast/core/, each saying at its top what
// holds:
//   types.ts         config, inputs, events, transmits, counters
//   participants.ts  the receivers by address, their clNr and state
//   transmit.ts      the control queue and the DATA/FEC/REQACK builders
//   handshake.ts     the waiting phase: HELLO, CONNECT_REPLY, when the transfer starts
//   pacer.ts         the token bucket and its adaptation to reported loss
//   slice.ts         one slice in flight: first pass, rounds, the repairs each round needs
//   rounds.ts        the REQACK rounds' clock (timeouts, repeats) and who has answered
// Each imports only protocol/ and the files above it in this list, never this one.

import { decodeUdpcastDatagram } from '../../protocol/udpcast/codec.js';
import { MAX_CLIENTS, MAX_SLICE_BLOCKS } from '../../protocol/udpcast/wire.js';
import { Handshake } from './core/handshake.js';
import { Pacer } from './core/pacer.js';
import { Participants, type UdpcastReceiverRecord } from './core/participants.js';
import { hasAnswered, Rounds } from './core/rounds.js';
import { TxSlice } from './core/slice.js';
import { blockTransmit, ControlQueue, reqackTransmit } from './core/transmit.js';
import {
  countDrop,
  countSliceAcked,
  newUdpcastSenderStats,
  type UdpcastPhase,
  type UdpcastSenderConfig,
  type UdpcastSenderEvent,
  type UdpcastSenderInput,
  type UdpcastSenderStats,
  type UdpcastTransmit,
  WaitClock,
} from './core/types.js';

export type { UdpcastReceiverRecord, UdpcastReceiverState } from './core/participants.js';
export type { UdpcastPhase, UdpcastSenderConfig, UdpcastSenderEvent, UdpcastSenderInput, UdpcastSenderStats, UdpcastTransmit } from './core/types.js';

/** Events not yet polled. Bounded like the control queue: drivers poll after every call. */
const MAX_EVENTS = 4 * MAX_CLIENTS + 64;

export class UdpcastSenderCore {
  phase: UdpcastPhase = 'waiting';
  readonly stats: UdpcastSenderStats = newUdpcastSenderStats();
  /** Bytes of image taken from the source. */
  bytesRead = 0;
  private readonly participants = new Participants();
  private readonly control = new ControlQueue(this.stats);
  private readonly handshake: Handshake;
  private readonly events: UdpcastSenderEvent[] = [];
  /** Unacknowledged slices, oldest first. Bounded: maxInFlightSlices + the end slice. */
  private readonly window: TxSlice[] = [];
  private readonly pacer: Pacer;
  private nextSliceNo = 0;
  private readonly sourceQueue: Uint8Array[] = []; // bounded: wantsSlice() asks for one at a time
  private eof = false;
  private dataAddress = '';
  private readonly rounds: Rounds;
  private endSlice: TxSlice | undefined;
  private doneDetail = '';
  private aborted: string | undefined;
  private readonly waitClock = new WaitClock(this.stats);
  /** The pacer refused the last datagram nextTransmit() had. */
  private pacerBlocked = false;

  constructor(
    private readonly cfg: Readonly<UdpcastSenderConfig>,
    nowMs: number,
  ) {
    if (cfg.sliceBlocks < 1 || cfg.sliceBlocks > MAX_SLICE_BLOCKS) throw new RangeError(`sliceBlocks must be 1..${MAX_SLICE_BLOCKS}`);
    this.pacer = new Pacer(cfg.pacing, nowMs);
    this.handshake = new Handshake(cfg, this.participants, this.control, this.stats, (ev) => this.emit(ev), nowMs);
    this.dataAddress = cfg.dataGroup;
    this.rounds = new Rounds(cfg, this.participants, this.stats);
  }

  receivers(): readonly Readonly<UdpcastReceiverRecord>[] {
    return this.participants.list();
  }

  get currentDataAddress(): string {
    return this.dataAddress;
  }

  get rateBps(): number {
    return this.pacer.rateBps;
  }

  /** The driver reads the next slice from the source when this is true. */
  wantsSlice(): boolean {
    return this.phase === 'sending' && !this.eof && this.sourceQueue.length === 0 && this.window.length < this.cfg.maxInFlightSlices;
  }

  get sliceBytes(): number {
    return this.cfg.sliceBlocks * this.cfg.blockBytes;
  }

  pollEvent(): UdpcastSenderEvent | undefined {
    return this.events.shift();
  }

  private emit(ev: UdpcastSenderEvent): void {
    if (this.events.length < MAX_EVENTS) this.events.push(ev);
  }

  private drop(reason: string): void {
    countDrop(this.stats, reason);
  }

  private live(): UdpcastReceiverRecord[] {
    return this.participants.live();
  }

  handle(ev: UdpcastSenderInput, nowMs: number): void {
    switch (ev.kind) {
      case 'datagram':
        this.onDatagram(ev.from.address, ev.from.port, ev.bytes, nowMs);
        break;
      case 'slice':
        this.bytesRead += ev.bytes.byteLength;
        this.sourceQueue.push(ev.bytes);
        break;
      case 'eof':
        this.eof = true;
        break;
      case 'start':
        this.handshake.onKey();
        break;
      case 'abort':
        this.aborted = ev.detail;
        this.finish(false, ev.detail);
        break;
    }
    this.advance(nowMs);
  }

  handleTimeout(nowMs: number): void {
    this.advance(nowMs);
  }

  private onDatagram(address: string, _port: number, bytes: Uint8Array, nowMs: number): void {
    const r = decodeUdpcastDatagram(bytes, this.cfg.blockBytes);
    if (!r.ok) {
      this.drop(r.code);
      return;
    }
    const m = r.value;
    if (m.kind === 'connect-req') {
      this.handshake.onConnectReq(address, m.msg.capabilities, m.msg.rcvbufBytes, this.phase !== 'waiting', nowMs);
      return;
    }
    const rec = this.participants.get(address);
    if (rec === undefined || (rec.state !== 'connected' && m.kind !== 'disconnect')) {
      this.drop('unknown-receiver');
      return;
    }
    switch (m.kind) {
      case 'go':
        if (this.phase === 'waiting') this.handshake.onGo(address);
        break;
      case 'disconnect':
        this.onDisconnect(rec);
        break;
      case 'ok':
        rec.silentRounds = 0;
        this.stats.oks++;
        this.onOk(rec, m.msg.sliceNo, nowMs);
        break;
      case 'retransmit':
        rec.silentRounds = 0;
        this.stats.retransmits++;
        this.onRetransmit(rec, m.msg.sliceNo, m.msg.rxmit, m.msg.haveMap, nowMs);
        break;
      default:
        // HELLO, DATA, FEC, REQACK, CONNECT_REPLY: another sender on this port base.
        this.drop('sender-message');
    }
  }

  private onDisconnect(rec: UdpcastReceiverRecord): void {
    if (rec.state !== 'connected') return;
    if (this.phase === 'waiting') {
      rec.state = 'left';
      rec.detail = 'left before the start';
      this.emit({ kind: 'left', clNr: rec.clNr, address: rec.address, detail: rec.detail });
      return;
    }
    const afterEnd = this.endSlice !== undefined && this.endSlice.roundSentAtMs !== undefined;
    rec.state = afterEnd ? 'unconfirmed' : 'left';
    rec.detail = afterEnd
      ? 'left after the end REQACK without confirming it: probably complete (its OK was lost), not confirmed'
      : `left (DISCONNECT) after ${rec.slicesAcked} slice(s): a stock receiver sends it on a fatal error or when interrupted`;
    this.forget(rec);
    this.emit({ kind: 'left', clNr: rec.clNr, address: rec.address, detail: rec.detail });
  }

  /** Takes a receiver out of every slice's counts. */
  private forget(rec: UdpcastReceiverRecord): void {
    for (const s of this.window) s.unmarkReady(rec.clNr);
    this.endSlice?.unmarkReady(rec.clNr);
  }

  private findSlice(sliceNo: number): TxSlice | undefined {
    if (this.endSlice?.sliceNo === sliceNo) return this.endSlice;
    return this.window.find((s) => s.sliceNo === sliceNo);
  }

  private onOk(rec: UdpcastReceiverRecord, sliceNo: number, nowMs: number): void {
    const s = this.findSlice(sliceNo);
    if (s === undefined) {
      this.drop('ok-unknown-slice');
      return;
    }
    this.rounds.noteAnswer(s, rec.clNr, nowMs);
    if (s.markReady(rec.clNr)) {
      rec.slicesAcked++;
      if (s.isEnd) {
        rec.state = 'complete';
        rec.detail = 'confirmed every slice and the end; not verified: stock udp-receivers send no digest (UDP checksums only)';
        this.emit({ kind: 'complete', clNr: rec.clNr, address: rec.address });
      }
    }
  }

  private onRetransmit(rec: UdpcastReceiverRecord, sliceNo: number, rxmit: number, haveMap: Uint8Array, nowMs: number): void {
    const s = this.findSlice(sliceNo);
    if (s === undefined || s.isEnd || s.isReady(rec.clNr)) {
      this.drop('retransmit-unknown-slice');
      return;
    }
    if (rxmit > s.rxmit) {
      this.drop('retransmit-future-round');
      return;
    }
    // An answer to an older round still says what was missing then: what has not been re-sent
    // since is taken (slice.ts), but it does not count as an answer to this round. (udpcast's
    // own sender compares rxmit without ntohl, so its late-answer filter never works:
    // docs/udpcast-wire.md §7, quirk 4.)
    if (rxmit === s.rxmit) this.rounds.noteAnswer(s, rec.clNr, nowMs);
    else this.drop('late-retransmit');
    const loss = s.addRetransmit(haveMap, rxmit);
    if (s.rxmit === 0) s.firstRoundLoss = Math.max(s.firstRoundLoss, loss);
    // Missing data goes out at once, as udpcast's own sender does; parity waits for the
    // round's answers, since one row serves every receiver that misses a block of its stripe.
    if (s.roundFlushed || !this.cfg.parityRepair) s.planRepairs(this.cfg.parityRepair);
  }

  // ---------------------------------------------------------------- state machine

  private advance(nowMs: number): void {
    if (this.phase === 'done') return;
    if (this.phase === 'waiting') this.advanceWaiting(nowMs);
    if (this.phase === 'sending' || this.phase === 'ending') this.advanceRounds(nowMs);
  }

  private advanceWaiting(nowMs: number): void {
    if (!this.handshake.tick(nowMs)) return;
    this.phase = 'sending';
    const live = this.live();
    if (this.cfg.pointToPoint === 'always' || (this.cfg.pointToPoint === 'auto' && live.length === 1)) this.dataAddress = live[0]!.address;
    this.emit({ kind: 'started', receivers: live.length, dataAddress: this.dataAddress });
  }

  private advanceRounds(nowMs: number): void {
    // Receivers dropped or gone: a slice nobody live waits for is done.
    if (this.live().length === 0) {
      // Everyone confirmed the end, or left, or was dropped.
      const complete = this.participants.everyoneComplete();
      this.finish(complete, complete ? '' : 'no receiver left');
      return;
    }
    for (const s of [...this.window, ...(this.endSlice ? [this.endSlice] : [])]) {
      if (s.roundSentAtMs === undefined || s.acked) continue;
      if (this.rounds.allReady(s)) {
        this.sliceAcked(s, nowMs);
        continue;
      }
      const timedOut = nowMs >= s.roundSentAtMs + this.rounds.timeoutMs();
      if (!s.roundFlushed && (this.rounds.allAnswered(s) || timedOut)) {
        if (!this.rounds.allAnswered(s)) {
          this.stats.roundTimeouts++;
          this.countSilence(s);
          if (this.phase === 'done') return;
          if (this.rounds.allReady(s)) {
            this.sliceAcked(s, nowMs);
            continue;
          }
        }
        s.roundFlushed = true;
        s.planRepairs(this.cfg.parityRepair);
        if (s.rxmit === 0) this.reportLoss(s, nowMs);
        if (s.rxmit >= this.cfg.retriesUntilDrop) this.dropUnfinished(s);
      }
    }
    this.admit(nowMs);
    if (this.phase === 'ending' && this.endSlice !== undefined && this.endSlice.roundSentAtMs !== undefined && this.rounds.allReady(this.endSlice)) {
      this.finish(true, '');
    }
  }

  /** The pacer learns each slice's first-round loss once. */
  private reportLoss(s: TxSlice, nowMs: number): void {
    if (s.firstRoundReported || s.isEnd) return;
    s.firstRoundReported = true;
    this.pacer.onSliceLoss(s.firstRoundLoss, nowMs);
    this.stats.pacerDecreases = this.pacer.decreases;
    this.stats.rateBps = Math.round(this.pacer.rateBps);
    this.stats.rateMeanBps = Math.round(this.pacer.meanRateBps(nowMs));
  }

  /** Slices enter the window up to maxInFlightSlices, each after the previous one's first pass; then the end slice. */
  private admit(nowMs: number): void {
    if (this.phase !== 'sending') return;
    if (this.sourceQueue.length > 0 && this.window.length < this.cfg.maxInFlightSlices) {
      const prev = this.window[this.window.length - 1];
      if (prev === undefined || prev.acked || (prev.roundSentAtMs !== undefined && this.rounds.allHaveSeen(prev))) {
        const bytes = this.sourceQueue.shift()!;
        const s = new TxSlice(this.nextSliceNo++, bytes, this.cfg.blockBytes, this.cfg.fec);
        s.admittedAtMs = nowMs;
        this.window.push(s);
      }
    }
    if (this.eof && this.sourceQueue.length === 0 && this.window.length === 0 && this.endSlice === undefined) {
      this.phase = 'ending';
      this.endSlice = new TxSlice(this.nextSliceNo++, new Uint8Array(0), this.cfg.blockBytes, undefined);
      this.emit({ kind: 'ending', slices: this.endSlice.sliceNo, bytes: this.bytesRead });
    }
  }

  private countSilence(s: TxSlice): void {
    for (const r of this.live()) {
      if (s.isReady(r.clNr) || hasAnswered(s, r.clNr)) continue;
      r.silentRounds++;
      if (r.silentRounds >= this.cfg.retriesUntilDrop) {
        this.dropReceiver(r, `no answer to ${r.silentRounds} REQACK rounds in a row (at slice ${s.sliceNo}${s.isEnd ? ', the end' : ''}): dead or unreachable`);
      }
    }
  }

  private dropUnfinished(s: TxSlice): void {
    for (const r of this.live()) {
      if (!s.isReady(r.clNr)) this.dropReceiver(r, `slice ${s.sliceNo} still incomplete after ${s.rxmit} REQACK rounds`);
    }
  }

  private dropReceiver(r: UdpcastReceiverRecord, detail: string): void {
    r.state = 'dropped';
    r.detail = detail;
    this.forget(r);
    this.emit({ kind: 'dropped', clNr: r.clNr, address: r.address, detail });
    if (this.live().length === 0) this.finish(false, 'every receiver was dropped or left');
  }

  /**
   * Every live receiver said OK. The slice leaves the window only once every older one has
   * too: a stock receiver exits at a slice more than two past its last complete one.
   */
  private sliceAcked(s: TxSlice, nowMs: number): void {
    if (s.isEnd || s.acked) return;
    s.acked = true;
    countSliceAcked(this.stats, s.rxmit, s.admittedAtMs, s.firstReqackAtMs ?? nowMs, nowMs);
    s.queue.length = 0;
    this.reportLoss(s, nowMs);
    s.release();
    while (this.window.length > 0 && this.window[0]!.acked) this.window.shift();
  }

  private finish(ok: boolean, detail: string): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.doneDetail = detail;
    this.window.length = 0;
    this.emit({ kind: 'done', ok: ok && this.participants.everyoneComplete() && this.aborted === undefined, detail: this.aborted ?? detail });
  }

  get doneReason(): string {
    return this.doneDetail;
  }

  // ---------------------------------------------------------------- transmit

  pollTransmit(nowMs: number): UdpcastTransmit | undefined {
    const c = this.control.shift();
    if (c !== undefined) return c;
    if (this.phase !== 'sending' && this.phase !== 'ending') return undefined;
    this.admit(nowMs);
    const t = this.nextTransmit(nowMs);
    if (t !== undefined) this.waitClock.sent(nowMs);
    else
      this.waitClock.idle(
        nowMs,
        this.pacerBlocked ? 'pacer' : this.sourceQueue.length === 0 && !this.eof && this.window.length < this.cfg.maxInFlightSlices ? 'source' : 'answers',
      );
    return t;
  }

  private nextTransmit(nowMs: number): UdpcastTransmit | undefined {
    this.pacerBlocked = false;
    const slices = this.endSlice === undefined ? this.window : [...this.window, this.endSlice];
    for (const s of slices) {
      if (s.acked) continue;
      // Repairs of the current round, then (once planned and sent) the next REQACK.
      if (s.queue.length > 0) {
        const item = s.queue[0]!;
        const size = this.cfg.blockBytes;
        if (!this.pacer.take(size, nowMs)) {
          this.pacerBlocked = true;
          return undefined;
        }
        s.queue.shift();
        return blockTransmit(s, item, true, this.dataAddress, this.cfg.coder, this.stats);
      }
      if (s.unicastQueue.length > 0) return reqackTransmit(s, s.unicastQueue.shift()!, false, this.stats);
      if (s.roundSentAtMs === undefined) {
        // First pass.
        if (s.firstPassSent < s.firstPassTotal) {
          const item = s.firstPassItem(s.firstPassSent);
          if (!this.pacer.take(this.cfg.blockBytes, nowMs)) {
            this.pacerBlocked = true;
            return undefined;
          }
          s.firstPassSent++;
          return blockTransmit(s, item, false, this.dataAddress, this.cfg.coder, this.stats);
        }
        return this.startRound(s, nowMs);
      }
      if (s.roundFlushed) {
        s.rxmit++;
        this.stats.rounds++;
        return this.startRound(s, nowMs);
      }
      if (s.reqackCopiesLeft > 0) {
        s.reqackCopiesLeft--;
        this.stats.reqackRepeats++;
        return reqackTransmit(s, this.dataAddress, true, this.stats);
      }
      if (this.rounds.repeatNow(s, nowMs)) {
        if (s.isEnd) this.rounds.queueEndUnicast(s, this.dataAddress, true);
        return reqackTransmit(s, this.dataAddress, true, this.stats);
      }
    }
    return undefined;
  }

  /** The REQACK that opens round s.rxmit (its copies follow), and when it goes again to late answerers. */
  private startRound(s: TxSlice, nowMs: number): UdpcastTransmit {
    this.rounds.open(s, nowMs);
    if (s.isEnd && s.rxmit > 0) this.rounds.queueEndUnicast(s, this.dataAddress, false);
    return reqackTransmit(s, this.dataAddress, true, this.stats);
  }

  /** The next time handleTimeout must run, or undefined when only input can move things. */
  pollTimeout(): number | undefined {
    if (this.phase === 'done') return undefined;
    if (this.phase === 'waiting') return this.handshake.pollTimeout();
    let t: number | undefined;
    const slices = this.endSlice === undefined ? this.window : [...this.window, this.endSlice];
    for (const s of slices) {
      if (s.acked) continue;
      if (s.roundSentAtMs !== undefined && !s.roundFlushed) {
        const due = this.rounds.dueMs(s);
        t = t === undefined ? due : Math.min(t, due);
      }
      if (s.queue.length > 0 || (s.roundSentAtMs === undefined && s.firstPassSent < s.firstPassTotal)) {
        const due = this.pacer.readyAtMs(this.cfg.blockBytes);
        t = t === undefined ? due : Math.min(t, due);
      }
    }
    return t;
  }
}
