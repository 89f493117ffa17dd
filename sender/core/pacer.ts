// Token-bucket pacing of DATA (--max-bitrate). What holds: 0 <= tokens <= burstBytes,
// counted as of tokensAtMs; one DATA datagram costs its bytes on the wire (with --key-file,
// the seal's trailer too: the rate is what the wire carries). Without a rate
// the pacer never holds anything back. The bucket is refilled only when DATA is about to
// go (trySend), so its refill time means something only while DATA is ready and the flow
// window open: the core arms the Pace timer (sender/core/timers.ts) only then.

import { DATA_HEADER_SIZE } from '../../protocol/messages/data.js';
import type { SenderConfig } from './config.js';
import type { SenderStats } from './stats.js';

const IP_UDP_OVERHEAD = 28;

export class Pacer {
  private readonly rateBytesPerMs: number;
  private readonly burstBytes: number;
  /** A DATA datagram on the wire: block, DATA header, seal trailer, IP and UDP headers. */
  private readonly packetBytes: number;
  private tokens: number;
  private tokensAtMs: number;

  constructor(
    cfg: Pick<SenderConfig, 'maxBitrateBps' | 'blockBytes' | 'sealBytes'>,
    private readonly stats: SenderStats,
    now: number,
  ) {
    this.rateBytesPerMs = cfg.maxBitrateBps === undefined ? 0 : cfg.maxBitrateBps / 8 / 1000;
    // The driver's timer has about 1 ms resolution: the bucket must hold a few ms of sending.
    this.burstBytes = Math.max(64 * 1024, this.rateBytesPerMs * 4);
    this.packetBytes = cfg.blockBytes + DATA_HEADER_SIZE + (cfg.sealBytes ?? 0) + IP_UDP_OVERHEAD;
    this.tokens = this.burstBytes;
    this.tokensAtMs = now;
  }

  /** A rate is set (--max-bitrate). */
  get paced(): boolean {
    return this.rateBytesPerMs > 0;
  }

  /** Takes one DATA datagram's cost from the bucket, refilled to `now`; false (counted): wait. */
  trySend(now: number): boolean {
    if (!this.paced) return true;
    this.tokens = Math.min(this.burstBytes, this.tokens + (now - this.tokensAtMs) * this.rateBytesPerMs);
    this.tokensAtMs = now;
    if (this.tokens < this.packetBytes) {
      this.stats.paceWaits++;
      return false;
    }
    this.tokens -= this.packetBytes;
    return true;
  }

  /**
   * When the bucket holds a datagram's cost, if it does not now (undefined: it does, or
   * unpaced). At least 1 µs on: a deficit of a rounding error would give back tokensAtMs
   * itself, which is now.
   */
  readyAt(): number | undefined {
    if (!this.paced || this.tokens >= this.packetBytes) return undefined;
    return this.tokensAtMs + Math.max(0.001, (this.packetBytes - this.tokens) / this.rateBytesPerMs);
  }
}
