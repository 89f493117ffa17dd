// What a SenderCore is built with: validated once by the CLI (sender/args.ts) and here,
// then frozen. Values that adapt at run time (the flow window, the rate bucket) live in
// the core's state, never in here. Each component takes the Pick of it that it reads.

import { MAX_RECEIVERS } from '../../common/limits.js';
import type { ErasureCoder } from '../../protocol/fec/erasure-coder.js';
import type { RosterHost } from './roster.js';

export interface SenderConfig {
  readonly sessionId: number;
  readonly blockBytes: number;
  readonly sliceBlocks: number;
  readonly stripes: number;
  /** Proactive parity symbols per stripe, sent with every slice (udpcast's --fec redundancy). */
  readonly redundancy: number;
  /**
   * Proactive parity follows the loss the receivers report (sender/core/auto-parity.ts), up
   * to a quarter of a stripe; redundancy must be 0. The CLI's default without --fec; never
   * with async (no reports). Default false.
   */
  readonly autoParity?: boolean;
  /** No return channel: start after minWaitMs, send everything once (data and parity), END, done. */
  readonly async: boolean;
  /**
   * --async: send the image this many times (a carousel), so a receiver that missed a slice,
   * or came late, completes from a later pass. 1: once. The driver reads later passes again
   * from the source, so more than 1 needs a source that can be read again.
   */
  readonly carouselPasses: number;
  /**
   * Take JOINs after START (udpcast's --streaming). The head a late receiver missed is
   * re-read from the source: the driver must be able to answer pollReload().
   */
  readonly streaming: boolean;
  /**
   * Serve a catch-up pass: the driver can read the source again (pollReload). A receiver the
   * slow-node policy (sender/core/slow-policy.ts) finds too slow stops holding the first
   * pass back and gets what it lacks after it; with --streaming, a late receiver that takes
   * the image only in order gets all of it there. False (stdin, a pipe, --compress, or
   * --no-catch-up): the rack keeps the pace of its slowest receiver, as udpcast does.
   */
  readonly catchUp: boolean;
  /**
   * The driver can read the source again (a file or a device) whatever the policy says
   * (--no-catch-up too): a slice freed while a receiver still lacks it is read again
   * (nak-router.ts) instead of dropping that receiver. catchUp and streaming imply it.
   */
  readonly canReload?: boolean;
  /** --min-rate: a receiver the sender waits for that writes slower than this (bytes/s) goes to the catch-up pass. */
  readonly minRateBytesPerSec: number | undefined;
  readonly dataGroup: string;
  readonly dataPort: number;
  /** IMAGE_BYTES_UNKNOWN for stdin and --pipe. */
  readonly imageBytes: number;
  readonly retainSlices: number;
  /** Start when this many receivers joined (0: not a start condition). */
  readonly minReceivers: number;
  readonly minWaitMs: number;
  /** Start this long after the first join even below minReceivers (undefined: never). */
  readonly maxWaitMs: number | undefined;
  /** Wait for a 'start' event (Enter on the sender's terminal). */
  readonly waitForKey: boolean;
  /**
   * The rack's hosts (--hosts), empty when none were listed. Listed: the session starts once
   * every host has a receiver in it (or at maxWaitMs), a receiver of no listed host is
   * refused, and a host that never joined fails the session.
   */
  readonly roster: readonly RosterHost[];
  /** Give up if the session has not started this long after the sender came up (undefined: wait forever). */
  readonly startTimeoutMs: number | undefined;
  readonly maxReceivers: number;
  /** REQACK/END rounds without progress before a receiver is dropped. */
  readonly retriesUntilDrop: number;
  /** Token-bucket pacing of DATA in bits per second (undefined: unpaced, flow control only). */
  readonly maxBitrateBps: number | undefined;
  /** Bytes the driver's socket adds to every datagram after the core (--key-file's trailer), which pacing counts too. Default 0. */
  readonly sealBytes?: number;
  readonly helloIntervalMs: number;
  readonly reqackIntervalMs: number;
  readonly endIntervalMs: number;
  /** NAKs for the same stripe within this time of a repair burst top it up instead of starting another. */
  readonly nakHoldMs: number;
  readonly windowPacketsMax: number;
  /**
   * With more receivers than this at START the session is quiet: receivers report only
   * when a probe finds them behind, and as a heartbeat (sender/core/probe.ts). With at most
   * this many, every receiver reports its progress as it goes.
   */
  readonly maxReportingReceivers: number;
  /** Quiet session: receivers behind a probe answer within this long (and the round ends 1.5 times it + 1 ms after it began). */
  readonly answerWindowMs: number;
  /** Quiet session: a receiver's STATUS heartbeat, at least (it grows with the group, sender/core/probe.ts). */
  readonly heartbeatMs: number;
  /**
   * --clone-reports: how long the session stays open after the transfer for the clone
   * agents' CLONE_REPORTs of the receivers that verified. Undefined: no wait, and the
   * final table has no clone columns (reports that arrive are still acknowledged).
   */
  readonly cloneReportsMs?: number;
  readonly coder: ErasureCoder;
}

/**
 * Data blocks per stripe at most. The code has 256 - k parity symbols for k data blocks:
 * a stripe of 255 would have one, and a receiver missing two blocks could never finish.
 * 224 keeps at least 32 fresh symbols for repair.
 */
export const MAX_STRIPE_BLOCKS = 224;

/** Caller misuse (a config the CLI would have refused) throws RangeError. */
export function checkSenderConfig(cfg: Readonly<SenderConfig>): void {
  if (cfg.retainSlices < 2) throw new RangeError('retainSlices must be >= 2');
  if (cfg.roster.length > 0 && cfg.minReceivers > 0) throw new RangeError('a roster and minReceivers exclude each other');
  if (cfg.roster.length > cfg.maxReceivers) throw new RangeError('more hosts than maxReceivers');
  if (!(cfg.carouselPasses >= 1) || (cfg.carouselPasses > 1 && !cfg.async)) throw new RangeError('carouselPasses is 1, or more with async');
  if (cfg.catchUp && cfg.async) throw new RangeError('a catch-up pass needs a return channel');
  if (cfg.maxReceivers > MAX_RECEIVERS) throw new RangeError(`maxReceivers must be <= ${MAX_RECEIVERS}`);
  if (!(cfg.answerWindowMs >= 1 && cfg.answerWindowMs <= 0xffff)) throw new RangeError('answerWindowMs must be 1..65535');
  if (!(cfg.heartbeatMs >= 1)) throw new RangeError('heartbeatMs must be >= 1');
  if (cfg.autoParity === true && (cfg.async || cfg.redundancy !== 0)) throw new RangeError('automatic parity needs a return channel and no fixed redundancy');
  const stripeBlocksMax = Math.ceil(cfg.sliceBlocks / cfg.stripes);
  if (stripeBlocksMax > MAX_STRIPE_BLOCKS || stripeBlocksMax + cfg.redundancy > 255) {
    throw new RangeError(`a stripe of ${stripeBlocksMax} blocks (+${cfg.redundancy} parity) leaves too few fresh parity symbols`);
  }
}
