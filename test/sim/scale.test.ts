// Feedback that does not grow with the rack: one sender and a thousand receivers on the
// simulated network, against the same transfer to one receiver and to ten. The setting is
// the one docs/ARCHITECTURE.md ("How feedback scales") is measured in: a 4 MiB image,
// 1448-byte blocks, 128-block slices, 1% loss on every receiver's link, 0.2 ms latency,
// a 1 Gbit/s sender link.
//
// What is compared is the session: from the first DATA to the moment the sender has
// every receiver's verified REPORT (it is done). The rendezvous before it (HELLO every
// 50 ms until all have joined; with a thousand receivers some always miss the first) and
// the REPORT_ACK a receiver still waits for after the sender is done are the same at any
// size and are left out; the test prints them.
//
// Counters, not wall time: virtual milliseconds, STATUS and NAK datagrams the sender
// heard, each slice's share. The seed is in each test's name.

import { describe, expect, it } from 'vitest';
import { loadErasureCoder } from '../../common/fec.js';
import { DATA_FLAG_PARITY, DATA_FLAG_REPAIR } from '../../protocol/messages/data.js';
import { NAK_RATIO_MAX, STATUS_PER_SLICE_MAX, TEN_SEEDS, TIME_RATIO_MAX } from '../support/scale-bars.js';
import { type LossModel, type SimResult, simulate } from '../support/simulate.js';
import { SliceWatch } from '../support/slice-watch.js';

// The native coder when it loads (the same maths, test/unit/native/rs-differential.test.ts):
// a thousand receivers decode a few million blocks.
const coder = loadErasureCoder().coder;

const IMAGE_BYTES = 4 << 20;
// The bars (test/support/scale-bars.ts): NAKs per slice within NAK_RATIO_MAX of ten
// receivers'; measured at seed 16: 1.66 with independent loss (1.07 and 1.50 at seeds 17
// and 18).
/**
 * With loss in bursts of 8 the goal is 2 too; measured at seed 16: 3.1. About 140 of a
 * thousand receivers lose one burst in a slice and share its need; they draw their moment
 * in the last quarter of one band of the backoff (an eighth of a millisecond at
 * nakBackoffMs 8, so that needs a third of a doubling apart keep their order), and those
 * whose moment comes before the first NAK has reached them (0.2 ms) speak too. Without
 * suppression a thousand receivers send hundreds a slice.
 */
const NAK_RATIO_MAX_BURSTS = 3.5;
/** 32 receivers against 4 at 30 Mbit/s when feedback comes milliseconds late (jitter). */
const JITTER_NAK_RATIO_MAX = 3;

interface Run {
  readonly receivers: number;
  readonly r: SimResult;
  readonly firstDataMs: number;
  /** First DATA to the sender's done. */
  readonly sessionMs: number;
  readonly statusPerSlice: number;
  /** STATUS heard while each slice's DATA went out, the most over all slices. */
  readonly statusMaxInSlice: number;
  readonly naksPerSlice: number;
  readonly naksMaxInSlice: number;
  /**
   * The repairs no protocol can do without: for each slice, the most first-pass blocks one
   * receiver lost of it (parity repairs every receiver at once, so no fewer will do).
   */
  readonly repairFloor: number;
}

/** One DATA on the sender's link at 1 Gbit/s: 1448 + 24 bytes and 28 of IP/UDP. */
const PACKET_MS = ((1448 + 24 + 28) * 8) / 1e6;

/** The test's slices: 128 blocks in one stripe, or (interleaved stripes) `sliceBlocks` blocks in `stripes` and a larger image. */
interface Shape {
  readonly imageBytes: number;
  readonly sliceBlocks: number;
  readonly stripes: number;
}
const SHAPE: Shape = { imageBytes: IMAGE_BYTES, sliceBlocks: 128, stripes: 1 };

function run(receivers: number, seed: number, loss: LossModel, linkRateBps = 1e9, jitterMs = 0, shape: Shape = SHAPE): Run {
  const watch = new SliceWatch();
  const lostBySlice = new Map<number, Map<number, number>>(); // slices × receivers that lost in them
  const r = simulate({
    receivers,
    imageBytes: shape.imageBytes,
    seed,
    blockBytes: 1448,
    sliceBlocks: shape.sliceBlocks,
    stripes: shape.stripes,
    loss,
    latencyMs: 0.2,
    jitterMs,
    linkRateBps,
    maxSteps: 50_000_000,
    coder,
    keepImages: false,
    onDataLost: (receiver, d) => {
      if ((d.flags & (DATA_FLAG_PARITY | DATA_FLAG_REPAIR)) !== 0) return;
      const m = lostBySlice.get(d.sliceNo) ?? new Map<number, number>();
      m.set(receiver, (m.get(receiver) ?? 0) + 1);
      lostBySlice.set(d.sliceNo, m);
    },
    onSenderTransmit: watch.onSenderTransmit,
  });
  for (const x of r.receivers) if (!x.ok) throw new Error(`seed ${seed}, ${receivers} receivers: receiver ${x.index}: ${x.detail}`);
  expect(r.sender.succeeded).toBe(true);
  expect(r.sender.receiverList().filter((x) => x.state === 'verified')).toHaveLength(receivers);
  expect(r.senderDoneAtMs).toBeDefined();
  expect(watch.firstDataMs).toBeGreaterThanOrEqual(0);
  let naks = 0;
  for (const v of r.naksPerSlice.values()) naks += v;
  const statusTotal = r.sender.stats.statusReceived;
  let repairFloor = 0;
  for (const m of lostBySlice.values()) repairFloor += Math.max(...m.values());
  return {
    receivers,
    r,
    firstDataMs: watch.firstDataMs,
    sessionMs: r.senderDoneAtMs! - watch.firstDataMs,
    statusPerSlice: statusTotal / r.totalSlices,
    statusMaxInSlice: watch.statusMaxInSlice(),
    naksPerSlice: naks / r.totalSlices,
    naksMaxInSlice: Math.max(0, ...r.naksPerSlice.values()),
    repairFloor,
  };
}

function line(x: Run, one: Run): string {
  const s = x.r.sender.stats;
  return (
    `${String(x.receivers).padStart(5)} receivers: session ${x.sessionMs.toFixed(1)} ms (${(x.sessionMs / one.sessionMs).toFixed(2)}x one), ` +
    `rendezvous ${x.firstDataMs.toFixed(1)} ms, last receiver done ${x.r.timeMs.toFixed(1)} ms; ` +
    `STATUS ${x.statusPerSlice.toFixed(2)}/slice (max ${x.statusMaxInSlice}), NAK ${x.naksPerSlice.toFixed(2)}/slice (max ${x.naksMaxInSlice}), ` +
    `repair ${(s.repairPackets / x.r.totalSlices).toFixed(2)}/slice (floor ${(x.repairFloor / x.r.totalSlices).toFixed(2)}), REQACK ${s.reqacks}, window stalls ${s.windowStalls}`
  );
}

/**
 * A thousand receivers are about 25 s of one core's work; on a shared two-core machine under
 * a load of 10 one case took 155 s. The simulation is CPU-bound and deterministic: a slow
 * machine makes it late, never different, so the limit only has to catch a hang.
 */
const SCALE_TEST_TIMEOUT_MS = 300_000;

interface Case {
  readonly seed: number;
  readonly loss: LossModel;
  /**
   * Allow the link time of the repairs the worst receiver of each slice needs on top of
   * TIME_RATIO_MAX: with loss in bursts one of a thousand receivers loses tens of a slice's
   * blocks, and those repairs must go out whatever the feedback.
   */
  readonly allowRepairFloor: boolean;
  /** NAKs per slice of 1,000 receivers against ten receivers'. */
  readonly nakRatioMax: number;
  readonly shape?: Shape;
}

function scaleCase(name: string, c: Case): void {
  it(
    `${name}, seed ${c.seed}`,
    () => {
      const one = run(1, c.seed, c.loss, undefined, undefined, c.shape);
      const tens = Array.from({ length: TEN_SEEDS }, (_, i) => run(10, c.seed + i, c.loss, undefined, undefined, c.shape));
      const many = run(1000, c.seed, c.loss, undefined, undefined, c.shape);
      const tenNaks = tens.reduce((a, x) => a + x.naksPerSlice, 0) / TEN_SEEDS;
      const allowedMs = one.sessionMs * TIME_RATIO_MAX + (c.allowRepairFloor ? many.repairFloor * PACKET_MS : 0);
      console.log(
        [one, tens[0], many].map((x) => line(x!, one)).join('\n') +
          `\nten receivers over ${TEN_SEEDS} seeds: ${tenNaks.toFixed(2)} NAK/slice (${tens.map((x) => x.naksPerSlice.toFixed(2)).join(' ')}); ` +
          `1,000: ${(many.naksPerSlice / tenNaks).toFixed(2)}x that; session allowed ${allowedMs.toFixed(1)} ms`,
      );
      expect(many.sessionMs).toBeLessThanOrEqual(allowedMs);
      expect(many.statusMaxInSlice).toBeLessThanOrEqual(STATUS_PER_SLICE_MAX);
      expect(many.naksPerSlice).toBeLessThanOrEqual(tenNaks * c.nakRatioMax);
    },
    SCALE_TEST_TIMEOUT_MS,
  );
}

describe('1,000 receivers at the cost of one', () => {
  scaleCase('1% independent loss', { seed: 16, loss: { rate: 0.01 }, allowRepairFloor: false, nakRatioMax: NAK_RATIO_MAX });
  scaleCase('1% loss in bursts of 8 packets', { seed: 16, loss: { rate: 0.01, burst: 8 }, allowRepairFloor: true, nakRatioMax: NAK_RATIO_MAX_BURSTS });
  // Bursts answered by interleaved stripes: a burst of lost packets spreads over the
  // stripes (block b is in stripe b % 4), in the first pass and in the answers to NAKs, so
  // each stripe's worst receiver loses a smaller share and the session needs no allowance.
  scaleCase('1% loss in bursts of 8 packets, 512-block slices in 4 interleaved stripes, 8 MiB', {
    seed: 16,
    loss: { rate: 0.01, burst: 8 },
    allowRepairFloor: false,
    nakRatioMax: NAK_RATIO_MAX,
    shape: { imageBytes: 8 << 20, sliceBlocks: 512, stripes: 4 },
  });
});

describe('a slow link', () => {
  // 30 Mbit/s, what 32 receivers in Node take on the two-core lab (bench/lab-scale.ts): a
  // packet every 0.4 ms, as long as a band of the NAK backoff. A receiver that took the gap
  // between two packets of a repair burst for its end asked again in the middle of it:
  // 32 receivers sent 9 NAKs a slice where 4 send 1.1.
  it('32 receivers at 30 Mbit/s, 1% loss, seed 16: NAKs per slice within 2x of 4 receivers', () => {
    const four = run(4, 16, { rate: 0.01 }, 30e6);
    const many = run(32, 16, { rate: 0.01 }, 30e6);
    console.log(`30 Mbit/s: 4 receivers ${four.naksPerSlice.toFixed(2)} NAK/slice, 32 receivers ${many.naksPerSlice.toFixed(2)}`);
    expect(many.naksPerSlice).toBeLessThanOrEqual(2 * four.naksPerSlice);
  }, 120_000);

  // Feedback milliseconds late, as from 33 Node processes on two cores: every datagram
  // takes up to jitterMs more. With the CLI's fixed 8 ms backoff (a band of half a
  // millisecond) 32 receivers sent 12.7 NAKs a slice at 2 ms (4 receivers: 1.4), 22 at
  // 10 ms; a quiet session's backoff, wait for a repair and first NAKs now follow the
  // measured round trip (receiver/core/feedback-lag.ts; 4 receivers, a small session,
  // keep their timers). At seed 16: 3.5 against 1.4 at 2 ms (2.4x), 5.7 against 3.5 at
  // 10 ms (1.6x).
  it.each([2, 10])(
    '32 receivers at 30 Mbit/s, %i ms of jitter, 1 packet in 100 lost, seed 16: NAKs per slice within 3x of 4 receivers',
    (jitterMs) => {
      const four = run(4, 16, { rate: 0.01 }, 30e6, jitterMs);
      const many = run(32, 16, { rate: 0.01 }, 30e6, jitterMs);
      console.log(`30 Mbit/s, ${jitterMs} ms jitter: 4 receivers ${four.naksPerSlice.toFixed(2)} NAK/slice, 32 receivers ${many.naksPerSlice.toFixed(2)}`);
      expect(many.naksPerSlice).toBeLessThanOrEqual(JITTER_NAK_RATIO_MAX * four.naksPerSlice);
    },
    120_000,
  );
});

describe('flow control in a quiet session', () => {
  it('20 receivers, one writing at 20 MB/s, 2% loss (seed 9): the slow disk sets the pace, nobody is dropped, memory stays bounded', () => {
    const r = simulate({
      receivers: 20,
      imageBytes: 1_000_000,
      seed: 9,
      loss: { rate: 0.02 },
      linkRateBps: 1e9,
      sinkBytesPerMs: (i) => (i === 1 ? 20_000 : undefined),
      coder,
      keepImages: false,
    });
    for (const x of r.receivers) expect(x.ok, `receiver ${x.index}: ${x.detail}`).toBe(true);
    expect(r.sender.succeeded).toBe(true);
    expect(r.sender.receiverList().every((x) => x.state === 'verified')).toBe(true);
    // More than maxReportingReceivers: a quiet session, whose probe rounds (REQACKs) found the slow one.
    expect(r.sender.stats.reqacks).toBeGreaterThan(0);
    // 1 MB at 20 MB/s: at least 50 ms; and no receiver held more than the retention window.
    expect(r.senderDoneAtMs!).toBeGreaterThanOrEqual(50);
    for (const x of r.receivers) expect(x.core.stats.maxHeldSlices).toBeLessThanOrEqual(16);
  });
});
