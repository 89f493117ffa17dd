// The clock of a slice's REQACK rounds and who has answered them. A round opens with a REQACK
// (and reqackCopies - 1 copies right behind it); it ends when every live receiver not yet
// ready has answered, or at its timeout (3 x the smoothed answer delay, within roundMinMs ..
// roundMaxMs). Before that, the REQACK goes again to the group (and, at the end slice,
// unicast) when someone is still silent after twice the smoothed answer delay, doubling each
// time: a lost REQACK then costs a few milliseconds, not the round's timeout. Bookkeeping
// over a TxSlice and the participant table; the dispatcher (../core.ts) decides what to send.

import type { Participants } from './participants.js';
import type { TxSlice } from './slice.js';
import { countAnswerDelay, type UdpcastSenderConfig, type UdpcastSenderStats } from './types.js';

type RoundConfig = Pick<UdpcastSenderConfig, 'roundMinMs' | 'roundMaxMs' | 'reqackCopies' | 'reqackRepeatMinMs'>;

/** Whether receiver clNr has answered s's current round. */
export function hasAnswered(s: TxSlice, clNr: number): boolean {
  return (s.answered[clNr >> 3]! & (1 << (clNr & 7))) !== 0;
}

export class Rounds {
  /** Smoothed answer latency of REQACK rounds. */
  private srttMs = 10;

  constructor(
    private readonly cfg: Readonly<RoundConfig>,
    private readonly participants: Participants,
    private readonly stats: UdpcastSenderStats,
  ) {}

  timeoutMs(): number {
    return Math.min(this.cfg.roundMaxMs, Math.max(this.cfg.roundMinMs, 3 * this.srttMs));
  }

  /** Receiver clNr answered s (OK or RETRANSMIT to its current round); the first answer per round feeds the delay. */
  noteAnswer(s: TxSlice, clNr: number, nowMs: number): void {
    const byte = clNr >> 3;
    const bit = 1 << (clNr & 7);
    s.answeredEver[byte]! |= bit!;
    if ((s.answered[byte]! & bit) !== 0) return;
    s.answered[byte]! |= bit!;
    if (s.roundSentAtMs !== undefined) {
      const rtt = Math.max(0, nowMs - s.roundSentAtMs);
      this.srttMs = 0.875 * this.srttMs + 0.125 * rtt;
      countAnswerDelay(this.stats, rtt);
    }
  }

  /** Opens round s.rxmit: its copies follow, and it goes again to late answerers from reqackAgainAtMs. */
  open(s: TxSlice, nowMs: number): void {
    s.newRound(nowMs, this.cfg.reqackCopies);
    s.reqackAgainWaitMs = Math.max(this.cfg.reqackRepeatMinMs, 2 * this.srttMs);
    s.reqackAgainAtMs = s.reqackAgainWaitMs < this.timeoutMs() ? nowMs + s.reqackAgainWaitMs : undefined;
  }

  /** The REQACK goes again now (counted): its time has come and someone has not answered. */
  repeatNow(s: TxSlice, nowMs: number): boolean {
    if (s.reqackAgainAtMs === undefined || nowMs < s.reqackAgainAtMs) return false;
    if (this.allAnswered(s)) {
      s.reqackAgainAtMs = undefined;
      return false;
    }
    s.reqackAgainWaitMs *= 2;
    s.reqackAgainAtMs = nowMs + s.reqackAgainWaitMs;
    this.stats.reqackRepeats++;
    return true;
  }

  /** When s's open round next needs the clock: a repeat, or its timeout. */
  dueMs(s: TxSlice): number {
    const due = s.roundSentAtMs! + this.timeoutMs();
    return s.reqackAgainAtMs === undefined ? due : Math.min(due, s.reqackAgainAtMs);
  }

  /**
   * Receivers that saw the end listen only to unicast, those that missed it only to the group
   * (docs/udpcast-wire.md §7, quirk 2): the end REQACK goes to both, unicast to each receiver
   * not ready (and, with `unanswered`, that has not answered this round).
   */
  queueEndUnicast(s: TxSlice, dataAddress: string, unanswered: boolean): void {
    for (const r of this.participants.live()) {
      if (s.isReady(r.clNr) || r.address === dataAddress) continue;
      if (unanswered && hasAnswered(s, r.clNr)) continue;
      s.unicastQueue.push(r.address);
    }
  }

  /** Every live receiver not yet ready has answered this round. */
  allAnswered(s: TxSlice): boolean {
    for (const r of this.participants.all()) {
      if (r.state !== 'connected' || s.isReady(r.clNr)) continue;
      if (!hasAnswered(s, r.clNr)) return false;
    }
    return true;
  }

  allReady(s: TxSlice): boolean {
    for (const r of this.participants.all()) if (r.state === 'connected' && !s.isReady(r.clNr)) return false;
    return true;
  }

  /**
   * Every live receiver answered some REQACK of this slice, so it holds the slice in its
   * ring. A stock receiver whose first datagram of a slice belongs to the next one exits
   * ("Dropped by server"): it happens when a CPU-starved receiver's socket buffer overflows
   * for a whole slice. So the next slice waits for this proof.
   */
  allHaveSeen(s: TxSlice): boolean {
    for (const r of this.participants.all()) {
      if (r.state === 'connected' && (s.answeredEver[r.clNr >> 3]! & (1 << (r.clNr & 7))) === 0) return false;
    }
    return true;
  }
}
