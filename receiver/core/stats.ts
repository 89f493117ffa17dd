// The receiver's counters: what tests assert exactly and the driver logs at the end. Every
// component counts into the one object the core exposes as `stats`.

import type { ProtocolErrorCode } from '../../protocol/result.js';

/**
 * Why a datagram was dropped: its decode error, or a check against the session.
 * ERR_UNPLACED: a DATA record placed into a slice the core does not hold (never, while the
 * slice memory follows receiver/core/assembly.ts).
 */
export type DropCode = ProtocolErrorCode | 'ERR_AHEAD' | 'ERR_SESSION_TOO_LARGE' | 'ERR_UNPLACED';

export interface ReceiverStats {
  dataPackets: number;
  parityPackets: number;
  duplicates: number;
  decodedBlocks: number;
  /** Data blocks taken from a resend (DATA_FLAG_REPAIR on a data block), not rebuilt. */
  resentBlocks: number;
  slicesDecoded: number;
  heartbeatsSent: number;
  naksSent: number;
  naksSuppressed: number;
  /** First NAKs kept back because feedback came too late to suppress them (nak-scheduler.ts, thinnedOut). */
  naksThinned: number;
  naksHeard: number;
  /** --async with a carousel: times a slice that could not be rebuilt was left for the next pass. */
  slicesPutOff: number;
  /** DATA that went by while we were out of the data group (the catch-up pass, outrun by the first pass). */
  dataUnheard: number;
  /** Other receivers' JOIN, STATUS, REPORT, LEAVE, CLONE_REPORT and HEARTBEAT heard: nothing for us, not a drop. */
  othersFeedback: number;
  /** The sender's datagrams let by while we were late and not yet accepted (the transfer was not ours yet). */
  beforeAccept: number;
  /** Times no DATA came while the sender asked about DATA we never saw: we joined the data group again (data-watch.ts). */
  dataRejoins: number;
  statusSent: number;
  /** Most slices held in memory at once (incomplete, or complete and waiting for the sink). */
  maxHeldSlices: number;
  /** The NAK backoff window as it stands (nakBackoffMs, longer where the measured repair round trip asks for it). */
  nakBackoffMs: number;
  /** ERR_SESSION_TOO_LARGE: a HELLO asked us to hold more than maxRetainBytes (ignored). */
  drops: Partial<Record<DropCode, number>>;
}

export function newReceiverStats(): ReceiverStats {
  return {
    dataPackets: 0,
    parityPackets: 0,
    duplicates: 0,
    decodedBlocks: 0,
    resentBlocks: 0,
    slicesDecoded: 0,
    heartbeatsSent: 0,
    naksSent: 0,
    naksSuppressed: 0,
    naksThinned: 0,
    naksHeard: 0,
    slicesPutOff: 0,
    dataUnheard: 0,
    othersFeedback: 0,
    beforeAccept: 0,
    dataRejoins: 0,
    statusSent: 0,
    maxHeldSlices: 0,
    nakBackoffMs: 0,
    drops: {},
  };
}

export function countDrop(stats: ReceiverStats, code: DropCode): void {
  stats.drops[code] = (stats.drops[code] ?? 0) + 1;
}
