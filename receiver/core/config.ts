// The receiver core's configuration: what the CLI decided, validated once and frozen
// before the core sees it (receiver/args.ts). Values that change during a session (the
// sender's window, the image size) live in the components, never here.

import type { ErasureCoder } from '../../protocol/fec/erasure-coder.js';
import type { SliceMemory } from './slice.js';

export interface ReceiverConfig {
  /** Nonzero, random: addresses are not unique when several receivers share a host. */
  readonly receiverId: number;
  /** What the kernel granted the data socket; the sender sizes its window from it. */
  readonly rcvBufBytes: number;
  /** Give up if the transfer has not started this long after start-up (undefined: wait forever). */
  readonly startTimeoutMs: number | undefined;
  /** Give up when the sender is silent this long once in a session. */
  readonly receiveTimeoutMs: number;
  readonly joinIntervalMs: number;
  /** STATUS heartbeat while in a session. */
  readonly statusIntervalMs: number;
  /**
   * HEARTBEAT (how this receiver is doing, for the sender's table and slow-node policy)
   * this far apart with up to 4 receivers in the session (START counts them); a larger
   * group stretches it in proportion, up to 2 s, and to 1 ms per receiver past that
   * (common/feedback-interval.ts), so the sender hears about as many a second at any size.
   */
  readonly heartbeatIntervalMs: number;
  /** NAKs wait a random time up to this (shorter for larger needs), to hear others' first. */
  readonly nakBackoffMs: number;
  /** After a NAK (ours or one that covered ours) wait this long for the repair before asking again. */
  readonly repairWaitMs: number;
  readonly reportIntervalMs: number;
  readonly reportTries: number;
  /** Slices handed to the sink and not yet written; past it, delivery (and our STATUS) waits. */
  readonly maxQueuedSlices: number;
  readonly coder: ErasureCoder;
  /** Uniform in [0, 1): Math.random in drivers, a seeded PRNG in the simulator. */
  readonly random: () => number;
  /**
   * The most image bytes a session may ask us to hold for repair (HELLO's retainSlices x
   * slice bytes); a HELLO asking more is ignored. Default DEFAULT_MAX_RETAIN_BYTES.
   */
  readonly maxRetainBytes?: number;
  /**
   * Why this receiver cannot join a transfer already under way: its sink takes the image
   * only in order (stdout, --pipe, --unpack, a decompressor). Undefined: it writes at offsets.
   */
  readonly lateJoinBlocker?: string;
  /**
   * The output decompresses by magic (`auto`): an image that begins with a gzip or LZ4
   * stream (HELLO's CAP_IMAGE_COMPRESSED) is taken only in order.
   */
  readonly decompressesByMagic?: boolean;
  /** Where slices' bytes live (default: fresh heap memory per slice). The driver's pool lets the data socket place DATA into them. */
  readonly sliceMemory?: SliceMemory;
}

/**
 * The first HELLO heard sets how much the receiver holds: up to retainSlices slices, each
 * with its parity (at most one slice's worth more), plus maxQueuedSlices delivered ones the
 * sink has not taken. Wire values alone would allow 4096 slices of 4096 x 65000 bytes (a
 * terabyte); this caps it. The sender CLI's own default is 16 MiB (retainSlices x slice).
 */
export const DEFAULT_MAX_RETAIN_BYTES = 1 << 30;
