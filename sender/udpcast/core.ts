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
//            Repairs per round: see slice.ts. CONNECT_REQs are ignored (a stock receiver
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

import { CL_NR_REFUSED, encodeConnectReply, CONNECT_REPLY_SIZE } from '../../protocol/udpcast/connect-reply.js';
import { decodeUdpcastDatagram } from '../../protocol/udpcast/codec.js';
import { DATA_HEADER_SIZE, encodeDataHeader } from '../../protocol/udpcast/data.js';
import { encodeFecHeader, FEC_HEADER_SIZE, fecBlockNo } from '../../protocol/udpcast/fec-block.js';
import type { UdpcastParityCoder } from '../../protocol/udpcast/fec-code.js';
import { encodeHello, HELLO_SIZE } from '../../protocol/udpcast/hello.js';
import { encodeReqack, REQACK_SIZE } from '../../protocol/udpcast/reqack.js';
import { CAP_BIG_ENDIAN, MAX_CLIENTS, MAX_SLICE_BLOCKS, OP_HELLO, SENDER_CAPABILITIES } from '../../protocol/udpcast/wire.js';
import { Pacer } from './pacer.js';
import { Participants, type UdpcastReceiverRecord } from './participants.js';
import { TxSlice } from './slice.js';

export interface UdpcastSenderConfig {
  readonly blockBytes: number;
  /** Data blocks per slice (<= 1024; with --fec: stripes x stripe size). */
  readonly sliceBlocks: number;
  /** --fec: parity sent with every slice's first pass. */
  readonly fec: { readonly stripes: number; readonly redundancy: number } | undefined;
  /** Repair with udpcast parity rows when that takes fewer datagrams than the missing data. */
  readonly parityRepair: boolean;
  readonly coder: UdpcastParityCoder;
  /** The data group advertised in HELLO and CONNECT_REPLY. */
  readonly dataGroup: string;
  /** Unicast data to a single receiver: 'auto' (udpcast's default: when exactly one joined), 'always', 'never'. */
  readonly pointToPoint: 'auto' | 'always' | 'never';
  /** 2 (full duplex: the next slice goes out while one awaits its OKs) or 1 (half duplex). */
  readonly maxInFlightSlices: 1 | 2;
  readonly minReceivers: number;
  readonly minWaitMs: number;
  readonly maxWaitMs: number | undefined;
  /** Start only at start() (Enter) or a GO, unless min/max-wait start it first. */
  readonly waitForKey: boolean;
  /** Time after the last CONNECT_REPLY before the first DATA. */
  readonly startGraceMs: number;
  readonly helloIntervalMs: number;
  readonly retriesUntilDrop: number;
  /** Shortest wait for a round's answers. */
  readonly roundMinMs: number;
  readonly roundMaxMs: number;
  /** Adaptive pacing between minRateBps and maxRateBps, or a fixed rate. */
  readonly pacing: { readonly startRateBps: number; readonly minRateBps: number; readonly maxRateBps: number; readonly burstBytes: number; readonly fixed: boolean };
}

export type { UdpcastReceiverRecord, UdpcastReceiverState } from './participants.js';

export type UdpcastSenderEvent =
  | { readonly kind: 'connected'; readonly clNr: number; readonly address: string; readonly again: boolean }
  | { readonly kind: 'late-connect'; readonly address: string }
  | { readonly kind: 'started'; readonly receivers: number; readonly dataAddress: string }
  | { readonly kind: 'dropped'; readonly clNr: number; readonly address: string; readonly detail: string }
  | { readonly kind: 'left'; readonly clNr: number; readonly address: string; readonly detail: string }
  | { readonly kind: 'complete'; readonly clNr: number; readonly address: string }
  | { readonly kind: 'ending'; readonly slices: number; readonly bytes: number }
  | { readonly kind: 'done'; readonly ok: boolean; readonly detail: string };

export type UdpcastSenderInput =
  | { readonly kind: 'datagram'; readonly from: { readonly address: string; readonly port: number }; readonly bytes: Uint8Array }
  | { readonly kind: 'slice'; readonly bytes: Uint8Array }
  | { readonly kind: 'eof' }
  | { readonly kind: 'start' }
  | { readonly kind: 'abort'; readonly detail: string };

/** `to`: 'rendezvous' (HELLO), or the IPv4 address; the port is always the receivers' (portbase). */
export interface UdpcastTransmit {
  readonly to: string;
  readonly parts: readonly Uint8Array[];
  /** Data-plane (paced, batchable) or control. */
  readonly paced: boolean;
}

export interface UdpcastSenderStats {
  dataBlocks: number;
  rexmitBlocks: number;
  fecBlocks: number;
  repairFecBlocks: number;
  reqacks: number;
  rounds: number;
  roundTimeouts: number;
  hellos: number;
  connectReplies: number;
  oks: number;
  retransmits: number;
  /** Datagrams dropped at input, by reason. */
  drops: Record<string, number>;
  pacerDecreases: number;
  rateBps: number;
}

export type UdpcastPhase = 'waiting' | 'sending' | 'ending' | 'done';

/** Transmits queued ahead of data (CONNECT_REPLY, HELLO). Bounded: one per CONNECT_REQ, at most MAX_CLIENTS + a few. */
const MAX_CONTROL_QUEUE = MAX_CLIENTS + 16;
/** CONNECT_REPLY copies per CONNECT_REQ, spread over the start grace. */
const REPLY_COPIES = 3;
/** Events not yet polled. Bounded like the control queue: drivers poll after every call. */
const MAX_EVENTS = 4 * MAX_CLIENTS + 64;

export class UdpcastSenderCore {
  phase: UdpcastPhase = 'waiting';
  readonly stats: UdpcastSenderStats = {
    dataBlocks: 0, rexmitBlocks: 0, fecBlocks: 0, repairFecBlocks: 0, reqacks: 0, rounds: 0, roundTimeouts: 0, hellos: 0,
    connectReplies: 0, oks: 0, retransmits: 0, drops: {}, pacerDecreases: 0, rateBps: 0,
  };
  /** Bytes of image taken from the source. */
  bytesRead = 0;
  private readonly participants = new Participants();
  private readonly control: UdpcastTransmit[] = [];
  private readonly events: UdpcastSenderEvent[] = [];
  /** Unacknowledged slices, oldest first. Bounded: maxInFlightSlices + the end slice. */
  private readonly window: TxSlice[] = [];
  private readonly pacer: Pacer;
  private nextSliceNo = 0;
  private readonly sourceQueue: Uint8Array[] = []; // bounded: wantsSlice() asks for one at a time
  private eof = false;
  private keyPressed = false;
  private goFrom: string | undefined;
  private firstConnectMs: number | undefined;
  private lastConnectMs = 0;
  private nextHelloMs: number;
  private dataAddress = '';
  /** Smoothed answer latency of REQACK rounds. */
  private srttMs = 10;
  private endSlice: TxSlice | undefined;
  private doneDetail = '';
  private readonly late = new Set<string>(); // bounded: reported once per address, MAX_CLIENTS at most
  private aborted: string | undefined;
  /** Copies of CONNECT_REPLY still to send, per address. Bounded: MAX_CLIENTS. */
  private readonly replyAgain = new Map<string, { left: number; atMs: number }>();

  constructor(
    private readonly cfg: Readonly<UdpcastSenderConfig>,
    nowMs: number,
  ) {
    if (cfg.sliceBlocks < 1 || cfg.sliceBlocks > MAX_SLICE_BLOCKS) throw new RangeError(`sliceBlocks must be 1..${MAX_SLICE_BLOCKS}`);
    this.pacer = new Pacer(cfg.pacing, nowMs);
    this.nextHelloMs = nowMs;
    this.dataAddress = cfg.dataGroup;
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
    this.stats.drops[reason] = (this.stats.drops[reason] ?? 0) + 1;
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
        this.keyPressed = true;
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

  private onDatagram(address: string, port: number, bytes: Uint8Array, nowMs: number): void {
    const r = decodeUdpcastDatagram(bytes, this.cfg.blockBytes);
    if (!r.ok) {
      this.drop(r.code);
      return;
    }
    const m = r.value;
    if (m.kind === 'connect-req') {
      this.onConnectReq(address, m.msg.capabilities, m.msg.rcvbufBytes, nowMs);
      return;
    }
    const rec = this.participants.get(address);
    if (rec === undefined || (rec.state !== 'connected' && m.kind !== 'disconnect')) {
      this.drop('unknown-receiver');
      return;
    }
    switch (m.kind) {
      case 'go':
        if (this.phase === 'waiting') this.goFrom = address;
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

  private onConnectReq(address: string, capabilities: number, rcvbufBytes: number, nowMs: number): void {
    if (this.phase !== 'waiting') {
      // udpcast's sender ignores these too: a stock receiver expects slice 0 and cannot join late.
      if (this.participants.get(address) === undefined && !this.late.has(address) && this.late.size < MAX_CLIENTS) {
        this.late.add(address);
        this.emit({ kind: 'late-connect', address });
      }
      this.drop('late-connect-req');
      return;
    }
    if ((capabilities & CAP_BIG_ENDIAN) === 0 && capabilities !== 0) {
      // Only the little-endian protocol of before 2005 lacks it; udpcast refuses those too.
      this.drop('little-endian-receiver');
      return;
    }
    let rec = this.participants.get(address);
    const again = rec !== undefined;
    if (rec === undefined) {
      rec = this.cfg.pointToPoint === 'always' && this.participants.size >= 1 ? undefined : this.participants.add(address, rcvbufBytes);
      if (rec === undefined) {
        this.queueControl(address, this.connectReply(CL_NR_REFUSED, address));
        this.drop('refused-connect-req');
        return;
      }
    } else if (rec.state !== 'connected') {
      // It left (DISCONNECT) and came back before the start: take it again.
      rec.state = 'connected';
      rec.detail = '';
    }
    this.firstConnectMs ??= nowMs;
    this.lastConnectMs = nowMs;
    // A stock receiver never asks again by itself (only on the next HELLO), and ignores a
    // second copy: so the reply goes out REPLY_COPIES times within the start grace.
    this.queueControl(address, this.connectReply(rec.clNr, address));
    this.replyAgain.set(address, { left: REPLY_COPIES - 1, atMs: nowMs + this.cfg.startGraceMs / REPLY_COPIES });
    this.emit({ kind: 'connected', clNr: rec.clNr, address, again });
  }

  private connectReply(clNr: number, address: string): Uint8Array {
    const b = new Uint8Array(CONNECT_REPLY_SIZE);
    const advertised = this.cfg.pointToPoint === 'always' ? address : this.cfg.dataGroup;
    encodeConnectReply({ clNr, blockBytes: this.cfg.blockBytes, capabilities: SENDER_CAPABILITIES, dataAddress: advertised }, b);
    return b;
  }

  private queueControl(to: string, bytes: Uint8Array): void {
    if (this.control.length >= MAX_CONTROL_QUEUE) {
      this.drop('control-queue-full');
      return;
    }
    this.control.push({ to, parts: [bytes], paced: false });
    if (bytes.byteLength === CONNECT_REPLY_SIZE) this.stats.connectReplies++;
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
    this.noteAnswer(s, rec.clNr, nowMs);
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
    // An answer to an older round still says what was missing then: its map is taken (it
    // can only ask for more), but it does not count as an answer to this round. (udpcast's
    // own sender compares rxmit without ntohl, so its late-answer filter never works:
    // docs/udpcast-wire.md §7, quirk 4.)
    if (rxmit === s.rxmit) this.noteAnswer(s, rec.clNr, nowMs);
    else this.drop('late-retransmit');
    const loss = s.addRetransmit(haveMap);
    if (s.rxmit === 0) s.firstRoundLoss = Math.max(s.firstRoundLoss, loss);
    if (s.roundFlushed) s.planRepairs(this.cfg.parityRepair);
  }

  private noteAnswer(s: TxSlice, clNr: number, nowMs: number): void {
    const byte = clNr >> 3;
    const bit = 1 << (clNr & 7);
    s.answeredEver[byte] |= bit;
    if ((s.answered[byte] & bit) !== 0) return;
    s.answered[byte] |= bit;
    if (s.roundSentAtMs !== undefined) {
      const rtt = Math.max(0, nowMs - s.roundSentAtMs);
      this.srttMs = 0.875 * this.srttMs + 0.125 * rtt;
    }
  }

  private roundTimeoutMs(): number {
    return Math.min(this.cfg.roundMaxMs, Math.max(this.cfg.roundMinMs, 3 * this.srttMs));
  }

  /** Every live receiver not yet ready has answered this round. */
  private allAnswered(s: TxSlice): boolean {
    for (const r of this.participants.all()) {
      if (r.state !== 'connected' || s.isReady(r.clNr)) continue;
      if ((s.answered[r.clNr >> 3] & (1 << (r.clNr & 7))) === 0) return false;
    }
    return true;
  }

  private allReady(s: TxSlice): boolean {
    for (const r of this.participants.all()) if (r.state === 'connected' && !s.isReady(r.clNr)) return false;
    return true;
  }

  // ---------------------------------------------------------------- state machine

  private advance(nowMs: number): void {
    if (this.phase === 'done') return;
    if (this.phase === 'waiting') this.advanceWaiting(nowMs);
    if (this.phase === 'sending' || this.phase === 'ending') this.advanceRounds(nowMs);
  }

  private advanceWaiting(nowMs: number): void {
    if (nowMs >= this.nextHelloMs) {
      this.queueHello();
      // A lost CONNECT_REPLY leaves a stock receiver waiting for the next HELLO, and we would
      // count it as connected: so every receiver gets its reply again with each HELLO. A
      // connected stock receiver ignores a second one ("Unexpected opcode").
      for (const r of this.live()) this.queueControl(r.address, this.connectReply(r.clNr, r.address));
      this.nextHelloMs = nowMs + this.cfg.helloIntervalMs;
    }
    for (const [address, a] of this.replyAgain) {
      if (nowMs < a.atMs) continue;
      const r = this.participants.get(address);
      if (r !== undefined && r.state === 'connected') this.queueControl(address, this.connectReply(r.clNr, address));
      a.left--;
      a.atMs = nowMs + this.cfg.startGraceMs / REPLY_COPIES;
      if (a.left <= 0) this.replyAgain.delete(address);
    }
    const due = this.startDueMs();
    if (due === undefined || nowMs < due) return;
    this.phase = 'sending';
    this.replyAgain.clear();
    const live = this.live();
    if (this.cfg.pointToPoint === 'always' || (this.cfg.pointToPoint === 'auto' && live.length === 1)) this.dataAddress = live[0].address;
    this.emit({ kind: 'started', receivers: live.length, dataAddress: this.dataAddress });
  }

  /**
   * When the transfer starts with the receivers connected so far (undefined: not without
   * more input): at a GO or key press, at first + maxWait, or once minReceivers are in and
   * first + minWait has passed; never before the grace after the last CONNECT_REPLY.
   */
  private startDueMs(): number | undefined {
    const n = this.live().length;
    if (n === 0 || this.firstConnectMs === undefined) return undefined;
    const first = this.firstConnectMs;
    let cond = Infinity;
    if (this.goFrom !== undefined || (this.keyPressed && this.cfg.waitForKey)) cond = 0;
    if (this.cfg.maxWaitMs !== undefined) cond = Math.min(cond, first + this.cfg.maxWaitMs);
    if (this.cfg.minReceivers > 0 && n >= this.cfg.minReceivers) cond = Math.min(cond, first + this.cfg.minWaitMs);
    return cond === Infinity ? undefined : Math.max(cond, this.lastConnectMs + this.cfg.startGraceMs);
  }

  private queueHello(): void {
    const b = new Uint8Array(HELLO_SIZE);
    encodeHello({ opcode: OP_HELLO, capabilities: SENDER_CAPABILITIES, dataAddress: this.cfg.dataGroup, blockBytes: this.cfg.blockBytes }, b);
    this.control.push({ to: 'rendezvous', parts: [b], paced: false });
    this.stats.hellos++;
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
      if (this.allReady(s)) {
        this.sliceAcked(s);
        continue;
      }
      const timedOut = nowMs >= s.roundSentAtMs + this.roundTimeoutMs();
      if (!s.roundFlushed && (this.allAnswered(s) || timedOut)) {
        if (!this.allAnswered(s)) {
          this.stats.roundTimeouts++;
          this.countSilence(s);
          if (this.phase === 'done') return;
          if (this.allReady(s)) {
            this.sliceAcked(s);
            continue;
          }
        }
        s.roundFlushed = true;
        s.planRepairs(this.cfg.parityRepair);
        if (s.rxmit === 0) this.reportLoss(s);
        if (s.rxmit >= this.cfg.retriesUntilDrop) this.dropUnfinished(s);
      }
    }
    this.admit();
    if (this.phase === 'ending' && this.endSlice !== undefined && this.endSlice.roundSentAtMs !== undefined && this.allReady(this.endSlice)) {
      this.finish(true, '');
    }
  }

  /** The pacer learns each slice's first-round loss once. */
  private reportLoss(s: TxSlice): void {
    if (s.firstRoundReported || s.isEnd) return;
    s.firstRoundReported = true;
    this.pacer.onSliceLoss(s.firstRoundLoss);
    this.stats.pacerDecreases = this.pacer.decreases;
    this.stats.rateBps = Math.round(this.pacer.rateBps);
  }

  /**
   * Every live receiver answered some REQACK of this slice, so it holds the slice in its
   * ring. A stock receiver whose first datagram of a slice belongs to the next one exits
   * ("Dropped by server"): it happens when a CPU-starved receiver's socket buffer overflows
   * for a whole slice. So the next slice waits for this proof.
   */
  private allHaveSeen(s: TxSlice): boolean {
    for (const r of this.participants.all()) {
      if (r.state === 'connected' && (s.answeredEver[r.clNr >> 3] & (1 << (r.clNr & 7))) === 0) return false;
    }
    return true;
  }

  /** Slices enter the window up to maxInFlightSlices, each after the previous one's first pass; then the end slice. */
  private admit(): void {
    if (this.phase !== 'sending') return;
    if (this.sourceQueue.length > 0 && this.window.length < this.cfg.maxInFlightSlices) {
      const prev = this.window[this.window.length - 1];
      if (prev === undefined || prev.acked || (prev.roundSentAtMs !== undefined && this.allHaveSeen(prev))) {
        const bytes = this.sourceQueue.shift()!;
        this.window.push(new TxSlice(this.nextSliceNo++, bytes, this.cfg.blockBytes, this.cfg.fec));
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
      if (s.isReady(r.clNr) || (s.answered[r.clNr >> 3] & (1 << (r.clNr & 7))) !== 0) continue;
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
  private sliceAcked(s: TxSlice): void {
    if (s.isEnd || s.acked) return;
    s.acked = true;
    s.queue.length = 0;
    this.reportLoss(s);
    s.release();
    while (this.window.length > 0 && this.window[0].acked) this.window.shift();
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
    this.admit();
    const slices = this.endSlice === undefined ? this.window : [...this.window, this.endSlice];
    for (const s of slices) {
      if (s.acked) continue;
      // Repairs of the current round, then (once planned and sent) the next REQACK.
      if (s.queue.length > 0) {
        const item = s.queue[0];
        const size = this.cfg.blockBytes;
        if (!this.pacer.take(size, nowMs)) return undefined;
        s.queue.shift();
        return this.repairTransmit(s, item, true);
      }
      if (s.unicastQueue.length > 0) return this.reqackTransmit(s, s.unicastQueue.shift()!, false);
      if (s.roundSentAtMs === undefined) {
        // First pass.
        if (s.firstPassSent < s.firstPassTotal) {
          const item = s.firstPassItem(s.firstPassSent);
          if (!this.pacer.take(this.cfg.blockBytes, nowMs)) return undefined;
          s.firstPassSent++;
          return this.repairTransmit(s, item, false);
        }
        s.newRound(nowMs);
        return this.reqackTransmit(s, this.dataAddress, true);
      }
      if (s.roundFlushed) {
        s.rxmit++;
        this.stats.rounds++;
        s.newRound(nowMs);
        if (s.isEnd) {
          // Receivers that saw the end listen only to unicast; those that missed it only to the group.
          for (const r of this.live()) if (!s.isReady(r.clNr) && r.address !== this.dataAddress) s.unicastQueue.push(r.address);
        }
        return this.reqackTransmit(s, this.dataAddress, true);
      }
    }
    return undefined;
  }

  private repairTransmit(s: TxSlice, item: { kind: 'data'; blockNo: number } | { kind: 'fec'; stripe: number; row: number }, isRepair: boolean): UdpcastTransmit {
    if (item.kind === 'data') {
      const h = new Uint8Array(DATA_HEADER_SIZE);
      encodeDataHeader({ sliceNo: s.sliceNo, blockNo: item.blockNo, sliceBytes: s.sliceBytes }, h);
      if (isRepair) this.stats.rexmitBlocks++;
      else this.stats.dataBlocks++;
      return { to: this.dataAddress, parts: [h, s.block(item.blockNo)], paced: true };
    }
    const h = new Uint8Array(FEC_HEADER_SIZE);
    encodeFecHeader({ stripes: s.stripes, sliceNo: s.sliceNo, fecBlockNo: fecBlockNo(s.stripes, item.stripe, item.row), sliceBytes: s.sliceBytes }, h);
    if (isRepair) this.stats.repairFecBlocks++;
    else this.stats.fecBlocks++;
    return { to: this.dataAddress, parts: [h, s.parity(this.cfg.coder, item.stripe, item.row)], paced: true };
  }

  private reqackTransmit(s: TxSlice, to: string, paced: boolean): UdpcastTransmit {
    const b = new Uint8Array(REQACK_SIZE);
    encodeReqack({ sliceNo: s.sliceNo, sliceBytes: s.sliceBytes, rxmit: s.rxmit, readySet: s.readySet }, b);
    this.stats.reqacks++;
    return { to, parts: [b], paced };
  }

  /** The next time handleTimeout must run, or undefined when only input can move things. */
  pollTimeout(): number | undefined {
    if (this.phase === 'done') return undefined;
    if (this.phase === 'waiting') {
      let t = this.nextHelloMs;
      const due = this.startDueMs();
      if (due !== undefined) t = Math.min(t, due);
      for (const a of this.replyAgain.values()) t = Math.min(t, a.atMs);
      return t;
    }
    let t: number | undefined;
    const slices = this.endSlice === undefined ? this.window : [...this.window, this.endSlice];
    for (const s of slices) {
      if (s.acked) continue;
      if (s.roundSentAtMs !== undefined && !s.roundFlushed) {
        const due = s.roundSentAtMs + this.roundTimeoutMs();
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
