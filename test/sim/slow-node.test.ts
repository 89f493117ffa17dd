// The slow-node policy and the catch-up pass on the simulated network (sender/core/
// slow-policy.ts, sender/core.ts, receiver/core/nak-scheduler.ts). Four receivers on a
// 100 Mbit/s link, a 16 MiB image in 1 KiB blocks (256 slices of 64 KiB), the sender keeps
// 16 slices; heartbeats every 100 ms. Healthy disks write 100 MB/s; a slow one 3 MB/s
// (3000 bytes/ms). Every scenario checks who was moved to the catch-up pass, when (the
// virtual time of the sender's event), what it cost, and that every copy is exact.

import { describe, expect, it } from 'vitest';
import { CatchUpWhy } from '../../protocol/messages/catch-up.js';
import { type SimOptions, type SimResult, simulate } from '../support/simulate.js';

const base: SimOptions = {
  receivers: 4,
  imageBytes: 16 << 20,
  seed: 7,
  blockBytes: 1024,
  sliceBlocks: 64,
  linkRateBps: 100e6,
  retainSlices: 16,
  sender: { catchUp: true },
  receiver: { heartbeatIntervalMs: 100, maxQueuedSlices: 4 },
  maxTimeMs: 60_000,
};
const HEALTHY = 100_000;
const SLOW = 3000;

function run(o: Partial<SimOptions>): SimResult {
  return simulate({ ...base, ...o, sender: { ...base.sender, ...o.sender }, receiver: { ...base.receiver, ...o.receiver } });
}

function expectAllIdentical(r: SimResult): void {
  for (const x of r.receivers) {
    if (!x.ok || Buffer.compare(Buffer.from(x.image), Buffer.from(r.image)) !== 0) {
      throw new Error(`seed ${r.seed}: receiver ${x.index} ok=${x.ok} "${x.detail}" ${x.image.byteLength}/${r.image.byteLength} bytes`);
    }
  }
  expect(r.sender.succeeded).toBe(true);
}

/** The catch-up moves: [receiver index, why, virtual ms]. */
function moves(r: SimResult): [number, CatchUpWhy, number][] {
  const out: [number, CatchUpWhy, number][] = [];
  r.senderEvents.forEach((e, i) => {
    if (e.kind === 'movedToCatchUp') out.push([e.receiverId - 0x100, e.why, r.senderEventsAt[i]!]);
  });
  return out;
}

function eventAt(r: SimResult, kind: string): number {
  const i = r.senderEvents.findIndex((e) => e.kind === kind);
  return i < 0 ? Infinity : r.senderEventsAt[i]!;
}

describe('the slow-node policy', () => {
  it('no slow node: nobody moves; the first pass ends at 1411 ms and everyone verifies then', () => {
    const r = run({ sinkBytesPerMs: () => HEALTHY });
    expectAllIdentical(r);
    expect(moves(r)).toEqual([]);
    expect(r.receivers.map((x) => x.doneAtMs)).toEqual([1411, 1411, 1411, 1411].map((t) => expect.closeTo(t, 0)));
    expect(r.sender.stats.reloads).toBe(0);
  });

  it('without a catch-up pass, one disk at 3 MB/s holds the rack to its pace (everyone done at 5195 ms)', () => {
    const r = run({ sinkBytesPerMs: (i) => (i === 3 ? SLOW : HEALTHY), sender: { catchUp: false } });
    expectAllIdentical(r);
    expect(moves(r)).toEqual([]);
    expect(eventAt(r, 'ending')).toBeCloseTo(5195, 0);
  });

  it('one disk at 3 MB/s: moved at 702 ms (its figures span 375 ms, then it is held 250 ms); the others finish at 1837 ms, it at 6294 ms', () => {
    const r = run({ sinkBytesPerMs: (i) => (i === 3 ? SLOW : HEALTHY) });
    expectAllIdentical(r);
    expect(moves(r)).toEqual([[3, CatchUpWhy.Slow, expect.closeTo(702, 0)]]);
    const s = r.sender.stats;
    expect(s.movedToCatchUp).toBe(1);
    expect(s.catchUpNaksIgnored).toBe(0);
    // Its catch-up pass: every slice it lacked, read again and sent as data blocks.
    expect(s.reloads).toBe(203);
    expect(s.dataResends).toBe(203 * 64);
    expect(eventAt(r, 'catchUpBegan')).toBe(eventAt(r, 'ending'));
    for (const i of [0, 1, 2]) expect(r.receivers[i]!.doneAtMs).toBeCloseTo(1837, 0);
    expect(r.receivers[3]!.doneAtMs).toBeCloseTo(6294, 0);
    const slow = r.receivers[3]!.core.stats;
    expect(slow.naksSent).toBe(203);
    // The first DATA beyond its window told it the first pass had outrun it: it let go of
    // 3 and left the data group; the rest of the first pass (and nothing of its own) went
    // by unheard until END, when it joined again for its catch-up pass.
    expect(slow.drops.ERR_AHEAD).toBe(3);
    expect(slow.dataUnheard).toBe(12_989);
  });

  it('2% loss (seed 8): the same node moves, repairs flow for the others, every copy is exact', () => {
    const r = run({ seed: 8, loss: { rate: 0.02 }, sinkBytesPerMs: (i) => (i === 3 ? SLOW : HEALTHY) });
    expectAllIdentical(r);
    expect(moves(r).map(([i, why]) => [i, why])).toEqual([[3, CatchUpWhy.Slow]]);
    expect(r.sender.stats.repairPackets).toBeGreaterThan(r.sender.stats.dataResends);
  });

  it('every disk at 3 MB/s: nobody is slow for this rack, nobody moves', () => {
    const r = run({ sinkBytesPerMs: () => SLOW });
    expectAllIdentical(r);
    expect(moves(r)).toEqual([]);
  });

  it.each([
    ['400 ms', [600, 1000]],
    ['700 ms', [600, 1300]],
    ['1.5 s', [600, 2100]],
  ] as const)('a healthy disk that stalls for %s is not moved (the rack waits, as before)', (_name, stall) => {
    const r = run({ sinkBytesPerMs: () => HEALTHY, sinkStall: (i) => (i === 2 ? stall : undefined), sender: { retriesUntilDrop: 200 } });
    expectAllIdentical(r);
    expect(moves(r)).toEqual([]);
  });

  it('a disk that stalls for 3 s is moved once its sink was held 80% of two seconds, and 500 ms more: at 2346 ms', () => {
    const r = run({ sinkBytesPerMs: () => HEALTHY, sinkStall: (i) => (i === 2 ? [600, 3600] : undefined), sender: { retriesUntilDrop: 200 } });
    expectAllIdentical(r);
    expect(moves(r)).toEqual([[2, CatchUpWhy.Slow, expect.closeTo(2346, 0)]]);
  });

  it('--min-rate 6 MB/s: a disk at 5 MB/s is moved as below it', () => {
    const r = run({ sinkBytesPerMs: (i) => (i === 3 ? 5000 : HEALTHY), sender: { minRateBytesPerSec: 6e6 } });
    expectAllIdentical(r);
    expect(moves(r)).toEqual([[3, CatchUpWhy.BelowMinRate, expect.closeTo(704, 0)]]);
  });

  it('--min-rate above every disk: nobody keeps it, so nobody moves', () => {
    const r = run({ sinkBytesPerMs: () => SLOW, sender: { minRateBytesPerSec: 6e6 } });
    expectAllIdentical(r);
    expect(moves(r)).toEqual([]);
  });

  it('two slow disks of four: both move; of two receivers, the healthy one stays', () => {
    const r = run({ sinkBytesPerMs: (i) => (i >= 2 ? SLOW : HEALTHY) });
    expectAllIdentical(r);
    expect(
      moves(r)
        .map(([i]) => i)
        .sort(),
    ).toEqual([2, 3]);
    const two = run({ receivers: 2, sinkBytesPerMs: (i) => (i === 1 ? SLOW : HEALTHY) });
    expectAllIdentical(two);
    expect(moves(two).map(([i]) => i)).toEqual([1]);
  });

  it('a quiet session (12 receivers, more than maxReportingReceivers): the slow disk is found by the probe rounds and moved at 770 ms; the others finish at 2351 ms, it at 6810 ms', () => {
    // Heartbeats stretch with the group (common/feedback-interval.ts): 300 ms here for the
    // HEARTBEAT message (100 ms for 4 receivers; a third of it early in the transfer, four
    // of them), 375 ms for the quiet STATUS heartbeat, which a HEARTBEAT stands for: the
    // sender takes the slices it says were delivered. So the slow disk's record shows it
    // behind between rounds at the HEARTBEAT's pace, and it moves at 770 ms (1271 ms when
    // only the STATUS heartbeat said so).
    const r = run({ receivers: 12, sinkBytesPerMs: (i) => (i === 11 ? SLOW : HEALTHY) });
    expectAllIdentical(r);
    expect(moves(r)).toEqual([[11, CatchUpWhy.Slow, expect.closeTo(770, 0)]]);
    for (let i = 0; i < 11; i++) expect(r.receivers[i]!.doneAtMs).toBeCloseTo(2351, 0);
    expect(r.receivers[11]!.doneAtMs).toBeCloseTo(6810, 0);
    const s = r.sender.stats;
    expect(s.movedToCatchUp).toBe(1);
    // It asked for slices 55..255, each once, each read again; 200 were sent as their 64 data
    // blocks, one (it held part of it when it moved) as 62 parity symbols.
    expect(r.receivers[11]!.core.stats.naksSent).toBe(201);
    expect(s.reloads).toBe(201);
    expect(s.dataResends).toBe(200 * 64);
    expect(s.repairPackets - s.dataResends).toBe(62);
    // One datagram a period from each receiver not behind, not two (a HEARTBEAT stands for
    // the quiet STATUS heartbeat): 114 STATUS and 147 HEARTBEAT, where both went it was 264 and 181.
    expect(s.statusReceived).toBe(114);
    expect(s.heartbeatsReceived).toBe(147);
  });
});

describe('a late receiver that takes the image only in order (--streaming)', () => {
  it('joins the catch-up pass at once and takes the whole image there, in order', () => {
    const r = run({
      join: new Map([[3, 500]]),
      sender: { streaming: true },
      receiverFor: (i) => (i === 3 ? { lateJoinBlocker: 'test: it takes the image only in order' } : undefined),
    });
    expectAllIdentical(r);
    expect(moves(r)).toEqual([[3, CatchUpWhy.LateInOrder, expect.closeTo(1050, 0)]]);
    // Written in order from byte 0 (the simulator writes at offsets only for joinSlice > 0).
    expect(r.receivers[3]!.joinSlice).toBe(0);
    expect(r.sender.stats.reloads).toBe(256);
    expect(r.sender.stats.lateJoins).toBe(1);
  });

  it('without a catch-up pass the sender refuses it: it ends at once, as before', () => {
    const r = run({
      join: new Map([[3, 500]]),
      sender: { streaming: true, catchUp: false },
      receiverFor: (i) => (i === 3 ? { lateJoinBlocker: 'test: it takes the image only in order' } : undefined),
    });
    expect(r.receivers[3]!.ok).toBe(false);
    expect(r.receivers[3]!.detail).toMatch(/already under way, and a late receiver writes the head of the image last, in place: test: it takes/);
    for (const i of [0, 1, 2]) expect(r.receivers[i]!.ok).toBe(true);
  });
});
