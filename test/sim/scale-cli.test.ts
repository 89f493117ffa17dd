// A thousand receivers as the CLI sets them up (test/support/cli-setup.ts: `udp-sender
// --min-receivers N`, so 4 stripes of 128 for a rack of a hundred and more, automatic parity
// with its prior and miss feedback, HEARTBEAT, the CLI's timers), against one receiver and
// ten. scale.test.ts measures the feedback alone (no parity ahead, every repair a NAK's);
// here it is what an admin gets by default. The images run a few seconds at a slower link
// (the simulator's work is per packet), long enough for the parity to follow the loss the
// HEARTBEATs (every 2 s at this size) and the settled slices report.
//
// NAKs are compared per MiB of image: ten receivers get the CLI's 256-block slices and a
// thousand 512-block ones, so per slice the larger would count two slices' worth. Counters,
// not wall time; the seed is in each test's name.

import { describe, expect, it } from 'vitest';
import { loadErasureCoder } from '../../common/fec.js';
import { cliSetup } from '../support/cli-setup.js';
import { NAK_RATIO_MAX, STATUS_PER_SLICE_MAX, TEN_SEEDS, TIME_RATIO_MAX } from '../support/scale-bars.js';
import { type LossModel, simulate } from '../support/simulate.js';
import { SliceWatch } from '../support/slice-watch.js';

const coder = loadErasureCoder().coder;

/** Deterministic and CPU-bound: the limit only catches a hang (1,000 receivers, 32 MiB: about 3 minutes of one core). */
const TIMEOUT_MS = 900_000;

interface Run {
  readonly receivers: number;
  readonly sliceBlocks: number;
  readonly sessionMs: number;
  readonly statusMaxInSlice: number;
  readonly naksPerMiB: number;
  readonly naksPerSlice: number;
  readonly parityPerSlice: number;
}

function run(receivers: number, seed: number, loss: LossModel, imageMiB: number, linkRateBps: number): Run {
  const cli = cliSetup(receivers);
  const watch = new SliceWatch();
  const r = simulate({
    receivers,
    imageBytes: imageMiB << 20,
    seed,
    blockBytes: 1448,
    sliceBlocks: cli.sliceBlocks,
    stripes: cli.stripes,
    sender: cli.sender,
    receiver: cli.receiver,
    loss,
    latencyMs: 0.2,
    linkRateBps,
    maxSteps: 200_000_000,
    coder,
    keepImages: false,
    onSenderTransmit: watch.onSenderTransmit,
  });
  for (const x of r.receivers) if (!x.ok) throw new Error(`seed ${seed}, ${receivers} receivers: receiver ${x.index}: ${x.detail}`);
  expect(r.sender.succeeded).toBe(true);
  expect(r.senderDoneAtMs).toBeDefined();
  let naks = 0;
  for (const v of r.naksPerSlice.values()) naks += v;
  return {
    receivers,
    sliceBlocks: cli.sliceBlocks,
    sessionMs: r.senderDoneAtMs! - watch.firstDataMs,
    statusMaxInSlice: watch.statusMaxInSlice(),
    naksPerMiB: naks / imageMiB,
    naksPerSlice: naks / r.totalSlices,
    parityPerSlice: r.sender.stats.proactiveParity / r.totalSlices,
  };
}

function line(x: Run, one: Run): string {
  return (
    `${String(x.receivers).padStart(5)} receivers (${x.sliceBlocks}-block slices): session ${x.sessionMs.toFixed(1)} ms (${(x.sessionMs / one.sessionMs).toFixed(2)}x one), ` +
    `STATUS max ${x.statusMaxInSlice}/slice, NAK ${x.naksPerMiB.toFixed(3)}/MiB (${x.naksPerSlice.toFixed(2)}/slice), parity ahead ${x.parityPerSlice.toFixed(1)}/slice`
  );
}

function scaleCase(name: string, seed: number, loss: LossModel, imageMiB: number, linkRateBps: number): void {
  it(
    `${name}, seed ${seed}: within ${TIME_RATIO_MAX}x one receiver's time, at most ${STATUS_PER_SLICE_MAX} STATUS a slice, NAKs within ${NAK_RATIO_MAX}x ten receivers'`,
    () => {
      const one = run(1, seed, loss, imageMiB, linkRateBps);
      const tens = Array.from({ length: TEN_SEEDS }, (_, i) => run(10, seed + i, loss, imageMiB, linkRateBps));
      const many = run(1000, seed, loss, imageMiB, linkRateBps);
      const tenNaks = tens.reduce((a, x) => a + x.naksPerMiB, 0) / TEN_SEEDS;
      console.log(
        `${name}:\n${[one, tens[0]!, many].map((x) => line(x, one)).join('\n')}\n` +
          `ten receivers over ${TEN_SEEDS} seeds: ${tenNaks.toFixed(3)} NAK/MiB (${tens.map((x) => x.naksPerMiB.toFixed(3)).join(' ')}); ` +
          `1,000: ${(many.naksPerMiB / Math.max(tenNaks, 1e-9)).toFixed(2)}x that`,
      );
      expect(many.sliceBlocks).toBe(512);
      expect(tens[0]!.sliceBlocks).toBe(256);
      expect(many.sessionMs).toBeLessThanOrEqual(TIME_RATIO_MAX * one.sessionMs);
      expect(many.statusMaxInSlice).toBeLessThanOrEqual(STATUS_PER_SLICE_MAX);
      expect(many.naksPerMiB).toBeLessThanOrEqual(NAK_RATIO_MAX * tenNaks);
    },
    TIMEOUT_MS,
  );
}

describe("1,000 receivers at the cost of one, with the CLI's defaults", () => {
  scaleCase('1% independent loss, 16 MiB at 50 Mbit/s', 16, { rate: 0.01 }, 16, 50e6);
  scaleCase('1% loss in bursts of 8 packets, 32 MiB at 100 Mbit/s', 16, { rate: 0.01, burst: 8 }, 32, 100e6);
});
