// The two windows the receivers' progress opens, and what DATA waits for.
//
// The flow window: how much DATA may be in flight beyond what every receiver has seen. It
// is sized once, at START, from the smallest receive buffer of the receivers in the
// session, and DATA goes only while the DATA sent is less than windowPackets ahead of the
// least read over the receivers still being served (least-progress.ts keeps that least in
// a heap, so the check before each DATA is O(1); receivers in the catch-up pass count only
// once the first pass is over). With --async there is no feedback and the window is
// always open (--max-bitrate is the only limit); with nobody left to serve, too.
//
// Retention: a slice is freed once it was sent and every receiver still served holds it
// (sender/core/slices.ts keeps at most retainSlices).
//
// Blocked: DATA is ready but the flow window is full, or the first pass caught up with the
// source and retention is full (the slowest receiver has not taken the oldest slice).
// Either way only the receivers can unblock it, so a REQACK round starts (rounds.ts).
//
// Repairs while the window is shut: the window counts from the least DATA any receiver has
// seen, so a receiver that saw none of the last window's worth (its data group went quiet
// for it, or a burst was lost whole) holds it shut, and the repairs it asks for would wait
// behind the window it holds: neither moves until the retries drop it, and every other
// receiver waits that long too. So each round while DATA waits (rounds.ts) lets
// SHUT_REPAIRS_PER_ROUND repair datagrams go past a shut window. One that arrives tells
// the receiver the newest sequence number, its next STATUS or NAK opens the window, and
// the repairs flow as usual. Few enough that a receiver slow to read, the other reason
// the window shuts, is not flooded: four datagrams a round.
//
// What holds: windowPackets is 0 until START, then between 16 and windowPacketsMax.

import { DATA_HEADER_SIZE } from '../../protocol/messages/data.js';
import type { SenderConfig } from './config.js';
import type { Participants } from './participants.js';
import type { RepairScheduler } from './repair.js';
import type { SliceStore } from './slices.js';
import type { Transmitter } from './transmit.js';

/** A receiver's kernel charges roughly this much per queued datagram beyond its payload (skb truesize). */
const TRUESIZE_OVERHEAD = 768;
/** Repair datagrams that may go past a shut window, per round while DATA waits (see the top of this file). */
export const SHUT_REPAIRS_PER_ROUND = 4;

export class FlowWindow {
  private packets = 0;
  /** Repairs that may still go past the shut window this round. */
  private shutRepairs = 0;

  constructor(
    private readonly cfg: Readonly<Pick<SenderConfig, 'async' | 'blockBytes' | 'windowPacketsMax'>>,
    private readonly participants: Participants,
    private readonly tx: Transmitter,
    private readonly slices: SliceStore,
    private readonly repair: Pick<RepairScheduler, 'stripesQueued'>,
  ) {}

  get windowPackets(): number {
    return this.packets;
  }

  /** At START: sizes the window from the receivers that joined, and returns it. */
  size(): number {
    const minBuf = this.cfg.async ? 0 : this.participants.minRcvBufBytes();
    // Never put more in flight than the smallest receiver's socket buffer holds (half of
    // it, the kernel's own accounting reserves the rest): a burst past it is lost for sure.
    const perPacket = this.cfg.blockBytes + DATA_HEADER_SIZE + TRUESIZE_OVERHEAD;
    this.packets = Math.max(16, Math.min(this.cfg.windowPacketsMax, Math.floor(minBuf / 2 / perPacket)));
    return this.packets;
  }

  /** Another DATA datagram may go now; `catchUpFlows`: the first pass is over, the catch-up receivers pace what goes. */
  open(catchUpFlows: boolean): boolean {
    if (this.cfg.async) return true; // no return channel: --max-bitrate is the only limit
    return this.tx.sentCount - this.participants.minSeenAbs(catchUpFlows) < this.packets;
  }

  /** A round while DATA waits: a few repairs may go past the shut window (see the top of this file). */
  grantShutRepairs(): void {
    this.shutRepairs = SHUT_REPAIRS_PER_ROUND;
  }

  /** The window is shut and a repair is queued: whether it may go anyway (shutRepairSent once it went). */
  shutRepairReady(): boolean {
    return this.shutRepairs > 0 && this.repair.stripesQueued > 0;
  }

  shutRepairSent(): void {
    this.shutRepairs--;
  }

  /** DATA to send: repairs queued, or a datagram of the first pass. */
  dataReady(): boolean {
    return this.repair.stripesQueued > 0 || this.slices.firstPassReady();
  }

  /** While transferring: DATA waits for the receivers (see the top of this file). */
  blocked(): boolean {
    if (this.dataReady()) return !this.open(false);
    return this.slices.eof === undefined && this.slices.windowFull();
  }

  freeDelivered(): void {
    // Without a receiver to repair for (async, or all gone, or only catch-up receivers, who
    // get what they lack read again), a slice is free once sent.
    this.slices.freeBelow(this.participants.minDelivered());
  }
}
