// What goes in and out of the udpcast sender core (../core.ts): its configuration, inputs,
// events, transmits and counters. Plain data; the core's parts import it, never the core.

import type { UdpcastParityCoder } from '../../../protocol/udpcast/fec-code.js';

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
  /**
   * HELLO interval while fewer than minReceivers have connected (undefined: helloIntervalMs).
   * A stock receiver asks to connect once at its start and then only on a HELLO, so one that
   * missed the HELLO (or whose CONNECT_REQ was lost) waits for the next: the start waits too.
   */
  readonly helloShortMs?: number;
  readonly retriesUntilDrop: number;
  /** Shortest wait for a round's answers. */
  readonly roundMinMs: number;
  readonly roundMaxMs: number;
  /**
   * Each round's REQACK goes this many times back to back (1: once, as udpcast's own sender
   * does): a lost REQACK leaves its receiver silent until the round times out.
   */
  readonly reqackCopies: number;
  /**
   * The REQACK goes again (same round) to a receiver that has not answered after twice the
   * smoothed answer delay, at least this long, doubling each time, until the round times out.
   */
  readonly reqackRepeatMinMs: number;
  /** Adaptive pacing between minRateBps and maxRateBps, or a fixed rate. */
  readonly pacing: {
    readonly startRateBps: number;
    readonly minRateBps: number;
    readonly maxRateBps: number;
    readonly burstBytes: number;
    readonly fixed: boolean;
  };
}

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
  /** REQACKs sent again within a round (copies and repeats to receivers that had not answered). */
  reqackRepeats: number;
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
  /** The pacer's rate averaged over time. */
  rateMeanBps: number;
  /** Data slices every live receiver acknowledged. */
  slicesAcked: number;
  /** Slices by the REQACK rounds they took beyond the first (last bucket: that many or more). */
  sliceRounds: number[];
  /** Summed over slices: first datagram to first REQACK, and first REQACK to the last OK. */
  firstPassMs: number;
  repairMs: number;
  /** Answers (OK, RETRANSMIT) by their delay after the round's REQACK: under 1, 2, 4, ... 128 ms, and later. */
  answerDelayMs: number[];
  /** Time with nothing to send, by what it waited for: tokens (the pacer), receivers' answers, the source. */
  waitMs: { pacer: number; answers: number; source: number };
}

/** Buckets of sliceRounds and answerDelayMs. */
export const ROUND_BUCKETS = 16;
export const DELAY_BUCKETS = 9;

export function newUdpcastSenderStats(): UdpcastSenderStats {
  return {
    dataBlocks: 0,
    rexmitBlocks: 0,
    fecBlocks: 0,
    repairFecBlocks: 0,
    reqacks: 0,
    reqackRepeats: 0,
    rounds: 0,
    roundTimeouts: 0,
    hellos: 0,
    connectReplies: 0,
    oks: 0,
    retransmits: 0,
    drops: {},
    pacerDecreases: 0,
    rateBps: 0,
    rateMeanBps: 0,
    slicesAcked: 0,
    sliceRounds: new Array<number>(ROUND_BUCKETS).fill(0),
    firstPassMs: 0,
    repairMs: 0,
    answerDelayMs: new Array<number>(DELAY_BUCKETS).fill(0),
    waitMs: { pacer: 0, answers: 0, source: 0 },
  };
}

/** Counts a datagram dropped at input. */
export function countDrop(stats: UdpcastSenderStats, reason: string): void {
  stats.drops[reason] = (stats.drops[reason] ?? 0) + 1;
}

/** Counts one answer that came delayMs after its round's REQACK. */
export function countAnswerDelay(stats: UdpcastSenderStats, delayMs: number): void {
  let b = 0;
  while (b < DELAY_BUCKETS - 1 && delayMs >= 1 << b) b++;
  stats.answerDelayMs[b]!++;
}

/** Counts a data slice every live receiver acknowledged, after rxmit rounds beyond the first. */
export function countSliceAcked(stats: UdpcastSenderStats, rxmit: number, admittedAtMs: number, firstReqackAtMs: number, nowMs: number): void {
  stats.slicesAcked++;
  stats.sliceRounds[Math.min(rxmit, ROUND_BUCKETS - 1)]!++;
  stats.firstPassMs += firstReqackAtMs - admittedAtMs;
  stats.repairMs += nowMs - firstReqackAtMs;
}

/** Sums the time pollTransmit had nothing to send by what it waited for (stats.waitMs). */
export class WaitClock {
  private sinceMs: number | undefined;
  private reason: keyof UdpcastSenderStats['waitMs'] = 'answers';

  constructor(private readonly stats: UdpcastSenderStats) {}

  /** A datagram went at nowMs: an idle stretch, if any, ends. */
  sent(nowMs: number): void {
    if (this.sinceMs !== undefined) this.stats.waitMs[this.reason] += nowMs - this.sinceMs;
    this.sinceMs = undefined;
  }

  /** Nothing could go at nowMs, for `reason`: an idle stretch begins unless one is running. */
  idle(nowMs: number, reason: keyof UdpcastSenderStats['waitMs']): void {
    if (this.sinceMs !== undefined) return;
    this.sinceMs = nowMs;
    this.reason = reason;
  }
}

export type UdpcastPhase = 'waiting' | 'sending' | 'ending' | 'done';
