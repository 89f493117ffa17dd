// The sender's counters (tests assert exact values on them) and their initial value.
// One object, made by the core and shared by reference with the components that count:
// each component increments only its own fields, the core reads them all.

import type { ProtocolErrorCode } from '../../protocol/result.js';

/** Why a received datagram was dropped: a decoder's code, or a check the core makes. */
export type SenderDropCode = ProtocolErrorCode | 'ERR_OWN' | 'ERR_FOREIGN_ADDRESS';

export interface SenderStats {
  dataPackets: number;
  dataBytes: number;
  repairPackets: number;
  controlPackets: number;
  hellos: number;
  reqacks: number;
  ends: number;
  naksReceived: number;
  naksIgnored: number;
  statusReceived: number;
  heartbeatsReceived: number;
  joinsReceived: number;
  joinsRefused: number;
  drops: Partial<Record<SenderDropCode, number>>;
  /** Times the sender wanted to send DATA but the window (flow or retention) was full. */
  windowStalls: number;
  /** Repairs sent past a shut flow window (a few per round while DATA waits: sender/core/flow.ts). */
  shutWindowRepairs: number;
  paceWaits: number;
  /** Parity sent ahead with the first pass (--fec). */
  proactiveParity: number;
  /**
   * Control datagrams not queued because MAX_CONTROL_QUEUE were already waiting (a JOIN
   * flood answered faster than the driver drains). Not a drop of a received datagram, so
   * not in `drops`.
   */
  controlOverflows: number;
  /** JOINs taken after START (--streaming). */
  lateJoins: number;
  /** Head slices read again from the source for late receivers. */
  reloads: number;
  /**
   * NAKs for a slice freed while that receiver still lacked it (credited by silence in a
   * quiet session): the slice is read again, or the receiver dropped (nak-router.ts).
   */
  freedSliceNaks: number;
  /** Data blocks sent again as repair, to a receiver that had nothing of their stripe. */
  dataResends: number;
  /** CLONE_REPORTs taken (one per receiver) and repeats of one already taken. */
  cloneReports: number;
  cloneReportDuplicates: number;
  /** Slices whose read completed after the session was done (the last receiver left): dropped. */
  slicesAfterDone: number;
  /** Receivers moved to the catch-up pass (by the slow-node policy, or late and in order). */
  movedToCatchUp: number;
  /** NAKs from receivers in the catch-up pass before the first pass was over (not answered). */
  catchUpNaksIgnored: number;
}

export function newSenderStats(): SenderStats {
  return {
    dataPackets: 0,
    dataBytes: 0,
    repairPackets: 0,
    controlPackets: 0,
    hellos: 0,
    reqacks: 0,
    ends: 0,
    naksReceived: 0,
    naksIgnored: 0,
    statusReceived: 0,
    heartbeatsReceived: 0,
    joinsReceived: 0,
    joinsRefused: 0,
    drops: {},
    windowStalls: 0,
    shutWindowRepairs: 0,
    paceWaits: 0,
    proactiveParity: 0,
    controlOverflows: 0,
    lateJoins: 0,
    reloads: 0,
    freedSliceNaks: 0,
    dataResends: 0,
    cloneReports: 0,
    cloneReportDuplicates: 0,
    slicesAfterDone: 0,
    movedToCatchUp: 0,
    catchUpNaksIgnored: 0,
  };
}

/** Counts a dropped datagram by its reason; false, for the caller to return. */
export function countDrop(stats: SenderStats, code: SenderDropCode): false {
  stats.drops[code] = (stats.drops[code] ?? 0) + 1;
  return false;
}
