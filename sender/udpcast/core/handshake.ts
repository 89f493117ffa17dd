// The udpcast sender core's waiting phase (../core.ts): HELLO every helloIntervalMs, a
// CONNECT_REPLY for every CONNECT_REQ (repeated, since a stock receiver never asks again by
// itself), and the rule that starts the transfer. What holds: every receiver that asked is
// in the participant table with a stable clNr; after the start, CONNECT_REQs are refused
// (a stock receiver expects slice 0 and cannot join late) and reported once per address.

import { CL_NR_REFUSED } from '../../../protocol/udpcast/connect-reply.js';
import { CAP_BIG_ENDIAN, MAX_CLIENTS } from '../../../protocol/udpcast/wire.js';
import type { Participants } from './participants.js';
import { type ControlQueue, connectReplyBytes } from './transmit.js';
import { countDrop, type UdpcastSenderConfig, type UdpcastSenderEvent, type UdpcastSenderStats } from './types.js';

/** CONNECT_REPLY copies per CONNECT_REQ, spread over the start grace. */
const REPLY_COPIES = 3;

export class Handshake {
  private keyPressed = false;
  private goFrom: string | undefined;
  private firstConnectMs: number | undefined;
  private lastConnectMs = 0;
  private nextHelloMs: number;
  /** When the HELLO tick next sends every connected receiver its CONNECT_REPLY again. */
  private nextRepliesMs: number;
  private readonly late = new Set<string>(); // bounded: reported once per address, MAX_CLIENTS at most
  /** Copies of CONNECT_REPLY still to send, per address. Bounded: MAX_CLIENTS. */
  private readonly replyAgain = new Map<string, { left: number; atMs: number }>();

  constructor(
    private readonly cfg: Readonly<UdpcastSenderConfig>,
    private readonly participants: Participants,
    private readonly control: ControlQueue,
    private readonly stats: UdpcastSenderStats,
    private readonly emit: (ev: UdpcastSenderEvent) => void,
    nowMs: number,
  ) {
    this.nextHelloMs = nowMs;
    this.nextRepliesMs = nowMs;
  }

  onKey(): void {
    this.keyPressed = true;
  }

  onGo(address: string): void {
    this.goFrom = address;
  }

  onConnectReq(address: string, capabilities: number, rcvbufBytes: number, started: boolean, nowMs: number): void {
    if (started) {
      // udpcast's sender ignores these too: a stock receiver expects slice 0 and cannot join late.
      if (this.participants.get(address) === undefined && !this.late.has(address) && this.late.size < MAX_CLIENTS) {
        this.late.add(address);
        this.emit({ kind: 'late-connect', address });
      }
      countDrop(this.stats, 'late-connect-req');
      return;
    }
    if ((capabilities & CAP_BIG_ENDIAN) === 0 && capabilities !== 0) {
      // Only the little-endian protocol of before 2005 lacks it; udpcast refuses those too.
      countDrop(this.stats, 'little-endian-receiver');
      return;
    }
    let rec = this.participants.get(address);
    const again = rec !== undefined;
    if (rec === undefined) {
      rec = this.cfg.pointToPoint === 'always' && this.participants.size >= 1 ? undefined : this.participants.add(address, rcvbufBytes);
      if (rec === undefined) {
        this.control.push(address, this.connectReply(CL_NR_REFUSED, address));
        countDrop(this.stats, 'refused-connect-req');
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
    this.control.push(address, this.connectReply(rec.clNr, address));
    this.replyAgain.set(address, { left: REPLY_COPIES - 1, atMs: nowMs + this.cfg.startGraceMs / REPLY_COPIES });
    this.emit({ kind: 'connected', clNr: rec.clNr, address, again });
  }

  private connectReply(clNr: number, address: string): Uint8Array {
    return connectReplyBytes(clNr, this.cfg.blockBytes, this.cfg.pointToPoint === 'always' ? address : this.cfg.dataGroup);
  }

  /** HELLOs and CONNECT_REPLY copies that are due. Returns true when the transfer starts now. */
  tick(nowMs: number): boolean {
    if (nowMs >= this.nextHelloMs) {
      this.control.pushHello(this.cfg.dataGroup, this.cfg.blockBytes);
      // A lost CONNECT_REPLY leaves a stock receiver waiting for the next HELLO, and we would
      // count it as connected: so every receiver gets its reply again with each HELLO. A
      // connected stock receiver ignores a second one ("Unexpected opcode").
      // (At helloIntervalMs: the short interval only brings the missing receivers in.)
      if (nowMs >= this.nextRepliesMs) {
        for (const r of this.participants.live()) this.control.push(r.address, this.connectReply(r.clNr, r.address));
        this.nextRepliesMs = nowMs + this.cfg.helloIntervalMs;
      }
      this.nextHelloMs = nowMs + this.helloIntervalMs();
    }
    for (const [address, a] of this.replyAgain) {
      if (nowMs < a.atMs) continue;
      const r = this.participants.get(address);
      if (r !== undefined && r.state === 'connected') this.control.push(address, this.connectReply(r.clNr, address));
      a.left--;
      a.atMs = nowMs + this.cfg.startGraceMs / REPLY_COPIES;
      if (a.left <= 0) this.replyAgain.delete(address);
    }
    const due = this.startDueMs();
    if (due === undefined || nowMs < due) return false;
    this.replyAgain.clear();
    return true;
  }

  /**
   * Until --min-receivers are in, the start waits for whoever missed a HELLO (or whose
   * CONNECT_REQ was lost): HELLO then goes every helloShortMs. Connected stock receivers
   * ignore it, so only the missing ones answer.
   */
  private helloIntervalMs(): number {
    const short = this.cfg.helloShortMs;
    if (short === undefined || this.cfg.minReceivers === 0 || this.participants.live().length >= this.cfg.minReceivers) return this.cfg.helloIntervalMs;
    return Math.min(short, this.cfg.helloIntervalMs);
  }

  /**
   * When the transfer starts with the receivers connected so far (undefined: not without
   * more input): at a GO or key press, at first + maxWait, or once minReceivers are in and
   * first + minWait has passed; never before the grace after the last CONNECT_REPLY.
   */
  private startDueMs(): number | undefined {
    const n = this.participants.live().length;
    if (n === 0 || this.firstConnectMs === undefined) return undefined;
    const first = this.firstConnectMs;
    let cond = Infinity;
    if (this.goFrom !== undefined || (this.keyPressed && this.cfg.waitForKey)) cond = 0;
    if (this.cfg.maxWaitMs !== undefined) cond = Math.min(cond, first + this.cfg.maxWaitMs);
    if (this.cfg.minReceivers > 0 && n >= this.cfg.minReceivers) cond = Math.min(cond, first + this.cfg.minWaitMs);
    return cond === Infinity ? undefined : Math.max(cond, this.lastConnectMs + this.cfg.startGraceMs);
  }

  /** The next time tick() has something to do. */
  pollTimeout(): number {
    let t = this.nextHelloMs;
    const due = this.startDueMs();
    if (due !== undefined) t = Math.min(t, due);
    for (const a of this.replyAgain.values()) t = Math.min(t, a.atMs);
    return t;
  }
}
