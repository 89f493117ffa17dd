// Pacing for stock udp-receivers: a token bucket whose rate adapts to what the receivers
// report. Stock receivers read one datagram per recvmsg() into a kernel buffer of about
// 208 KiB (the default SO_RCVBUF they report in CONNECT_REQ), roughly 90 full datagrams:
// a sender faster than the slowest receiver overflows it within a millisecond, and every
// overflow costs a repair round. udpcast's own sender does not pace at all.
//
// The signal is each slice's first-round loss: the largest share of a slice's data blocks
// any receiver reported missing in its first RETRANSMIT. Loss the network adds (a lossy
// link, here nftables) does not depend on the rate; overflow does. So the pacer tracks the
// floor of that loss over the last slices, and slows down (multiplicatively) only when a
// slice's loss stands clearly above the floor, and speeds up (additively, by a share of the
// rate) otherwise, between a floor rate and --max-bitrate. Time is passed in; nothing here
// reads a clock.

/** Bytes a datagram costs on an Ethernet wire besides its UDP payload (IP 20, UDP 8, Ethernet 14+4, preamble and gap 20). */
export const WIRE_OVERHEAD_BYTES = 66;

export interface PacerConfig {
  readonly startRateBps: number;
  readonly minRateBps: number;
  /** --max-bitrate, or the largest rate the pacer may reach. */
  readonly maxRateBps: number;
  /** Tokens the bucket holds at most: the largest burst, in bytes. */
  readonly burstBytes: number;
  /** Fixed rate (--max-bitrate given and adaptation off). */
  readonly fixed: boolean;
}

/** First-round loss shares remembered to find the floor. */
const LOSS_HISTORY = 16;
/**
 * A slice's loss this far above the floor counts as overflow. Overflow costs its repairs
 * only, a slower rate costs every datagram: in the namespace lab (bench/udpcast-compat.ts,
 * stock receivers, 128 MiB) 0.05 held the sender at about 1 Gbit/s and 55-90 MB/s per
 * receiver, 0.2 let it run at 73-116 MB/s at 1 and 4 receivers, 0 and 5% loss, with about
 * the same repair rounds per slice. Above it, a receiver that loses far more than the others
 * (a slow disk, a starved CPU) still slows the sender.
 */
export const EXCESS_LOSS = 0.2;
const DECREASE = 0.85;
const INCREASE = 0.1;

export class Pacer {
  private rateBytesPerMs: number;
  private tokens: number;
  private lastMs: number;
  // Bounded: LOSS_HISTORY entries.
  private readonly losses: number[] = [];
  decreases = 0;
  increases = 0;
  /** The rate integrated over time since the first slice loss was reported (for the mean rate). */
  private rateBytesSum = 0;
  private rateSinceMs: number | undefined;
  private rateLastMs = 0;

  constructor(
    private readonly cfg: PacerConfig,
    nowMs: number,
  ) {
    this.rateBytesPerMs = cfg.startRateBps / 8000;
    this.tokens = cfg.burstBytes;
    this.lastMs = nowMs;
  }

  get rateBps(): number {
    return this.rateBytesPerMs * 8000;
  }

  private refill(nowMs: number): void {
    if (nowMs > this.lastMs) {
      this.tokens = Math.min(this.cfg.burstBytes, this.tokens + (nowMs - this.lastMs) * this.rateBytesPerMs);
      this.lastMs = nowMs;
    }
  }

  /** True if a datagram of payloadBytes may go now (and takes its tokens). */
  take(payloadBytes: number, nowMs: number): boolean {
    this.refill(nowMs);
    const cost = payloadBytes + WIRE_OVERHEAD_BYTES;
    if (this.tokens < cost - 1e-6) return false;
    this.tokens -= cost;
    return true;
  }

  /** When a datagram of payloadBytes could go (as of the last take()). */
  readyAtMs(payloadBytes: number): number {
    const missing = payloadBytes + WIRE_OVERHEAD_BYTES - this.tokens;
    // Rounded up to the next microsecond, so a timer at that time finds the tokens there.
    return missing <= 0 ? this.lastMs : Math.ceil((this.lastMs + missing / this.rateBytesPerMs) * 1000) / 1000;
  }

  /** The time-weighted mean rate so far, in bit/s (the current rate before any report). */
  meanRateBps(nowMs: number): number {
    if (this.rateSinceMs === undefined || nowMs <= this.rateSinceMs) return this.rateBps;
    return ((this.rateBytesSum + this.rateBytesPerMs * (nowMs - this.rateLastMs)) / (nowMs - this.rateSinceMs)) * 8000;
  }

  /** A slice's first round is in: the largest missing share any receiver reported (0 if all said OK). */
  onSliceLoss(lossShare: number, nowMs: number): void {
    this.rateSinceMs ??= nowMs;
    if (nowMs > this.rateLastMs) this.rateBytesSum += this.rateBytesPerMs * (nowMs - Math.max(this.rateLastMs, this.rateSinceMs));
    this.rateLastMs = Math.max(this.rateLastMs, nowMs);
    if (this.cfg.fixed) return;
    this.losses.push(lossShare);
    if (this.losses.length > LOSS_HISTORY) this.losses.shift();
    const floor = Math.min(...this.losses);
    if (this.losses.length >= 2 && lossShare > floor + EXCESS_LOSS) {
      this.rateBytesPerMs = Math.max(this.cfg.minRateBps / 8000, this.rateBytesPerMs * DECREASE);
      this.decreases++;
    } else {
      this.rateBytesPerMs = Math.min(this.cfg.maxRateBps / 8000, this.rateBytesPerMs * (1 + INCREASE));
      this.increases++;
    }
  }
}
