// The cores as the CLI sets them up, for the simulator: `udp-sender --min-receivers N` (so
// the slice geometry it picks for a rack of N, sender/args.ts defaultGeometry), automatic
// parity and the sender's timers, and `udp-receiver`'s timers and HEARTBEAT. What belongs
// to one session (its id, image, groups, the erasure coder) stays the simulator's.

import { parseReceiverArgs } from '../../receiver/args.js';
import type { ReceiverConfig } from '../../receiver/core/config.js';
import { parseSenderArgs } from '../../sender/args.js';
import type { SenderConfig } from '../../sender/core/config.js';

export interface CliSetup {
  readonly sliceBlocks: number;
  readonly stripes: number;
  readonly sender: Partial<SenderConfig>;
  readonly receiver: Partial<ReceiverConfig>;
}

/** For `receivers` receivers, 1448-byte blocks (MTU 1500; loopback's MTU lets --blocksize pass anywhere). */
export function cliSetup(receivers: number): CliSetup {
  const argv = ['--file', 'image', '--min-receivers', String(receivers), '--nokbd', '--blocksize', '1448', '--interface', '127.0.0.1'];
  const s = parseSenderArgs(argv, false).core;
  const r = parseReceiverArgs(['--file', 'image']).core;
  const { sliceBlocks, stripes, redundancy, autoParity, retainSlices, reqackIntervalMs, endIntervalMs, nakHoldMs, windowPacketsMax } = s;
  const { maxReportingReceivers, answerWindowMs, heartbeatMs, retriesUntilDrop } = s;
  const { joinIntervalMs, heartbeatIntervalMs, statusIntervalMs, nakBackoffMs, repairWaitMs, reportIntervalMs, reportTries, maxQueuedSlices } = r;
  return {
    sliceBlocks,
    stripes,
    sender: {
      redundancy,
      autoParity,
      retainSlices,
      reqackIntervalMs,
      endIntervalMs,
      nakHoldMs,
      windowPacketsMax,
      maxReportingReceivers,
      answerWindowMs,
      heartbeatMs,
      retriesUntilDrop,
    },
    receiver: { joinIntervalMs, heartbeatIntervalMs, statusIntervalMs, nakBackoffMs, repairWaitMs, reportIntervalMs, reportTries, maxQueuedSlices },
  };
}
