// A receiver restarted mid-transfer rejoins (udp-sender --streaming), on the simulated
// network: it takes the rest of the image with the others and the head by repair, re-read
// from the sender's source; the others are not held back.

import { describe, expect, it } from 'vitest';
import { type SimOptions, type SimResult, simulate } from '../support/simulate.js';

const IMAGE = 64 * 256 * 40 + 1234; // 41 slices of 64 x 256 bytes

function late(o: Partial<SimOptions> & { seed: number }): SimResult {
  return simulate({
    receivers: 3,
    imageBytes: IMAGE,
    retainSlices: 8,
    // 2 Mbit/s: the first pass takes about 2.7 s. Receiver 0 dies at 0.3 s; receiver 2 (its
    // restart) comes up at 0.6 s and hears the next HELLO (every second while transferring).
    linkRateBps: 2e6,
    kill: new Map([[0, 300]]),
    join: new Map([[2, 600]]),
    sender: { streaming: true },
    ...o,
  });
}

function expectVerified(r: SimResult, i: number): void {
  const x = r.receivers[i]!;
  expect(x.done && x.ok, `receiver ${i}: ${x.detail} (seed ${r.seed})`).toBe(true);
  expect(Buffer.compare(Buffer.from(x.image), Buffer.from(r.image)), `receiver ${i} image (seed ${r.seed})`).toBe(0);
}

describe('late join with --streaming (simulated)', () => {
  it('the restarted receiver gets the rest live and the head by repair, and verifies', () => {
    const r = late({ seed: 11 });
    expect(r.sender.currentPhase).toBe('done');
    expectVerified(r, 1);
    expectVerified(r, 2);
    const j = r.receivers[2]!.joinSlice;
    expect(j).toBeGreaterThan(8); // past the retention window: the head had to be re-read
    expect(j).toBeLessThan(r.totalSlices);
    expect(r.sender.stats.lateJoins).toBe(1);
    expect(r.sender.stats.reloads).toBeGreaterThanOrEqual(j - 8);
    // Each head slice (one stripe of 64 blocks) re-read once, its data blocks sent once,
    // asked for with about one NAK.
    expect(r.sender.stats.dataResends).toBe(64 * j);
    expect(r.receivers[2]!.core.stats.naksSent).toBeLessThanOrEqual(2 * j);
    expect(r.sender.stats.naksReceived, 'each NAK counted once, reloaded or not').toBe(r.nakLog.length);
    const dead = r.sender.receiverList().find((x) => x.id === r.receivers[0]!.id)!;
    expect(dead.state).toBe('dropped');
    const rejoined = r.sender.receiverList().find((x) => x.id === r.receivers[2]!.id)!;
    expect(rejoined.state).toBe('verified');
    expect(rejoined.joinSlice).toBe(j);
  });

  it.each([1, 2, 3, 4])('under 3%% loss, seed %i: everyone alive verifies', (seed) => {
    const r = late({ seed, loss: { rate: 0.03 } });
    expectVerified(r, 1);
    expectVerified(r, 2);
  });

  it('with --fec 4x2/16 (four stripes, parity ahead) under 2% loss: the head comes stripe by stripe, and verifies', () => {
    const r = late({ seed: 9, stripes: 4, sliceBlocks: 64, redundancy: 2, loss: { rate: 0.02 } });
    expectVerified(r, 1);
    expectVerified(r, 2);
    expect(r.receivers[2]!.joinSlice).toBeGreaterThan(8);
    expect(r.sender.stats.dataResends).toBeGreaterThanOrEqual(64 * (r.receivers[2]!.joinSlice - 8));
  });

  it('a receiver that comes up after the first pass gets the whole image by repair', () => {
    const r = late({ seed: 5, kill: new Map([[0, 3100]]), join: new Map([[2, 3300]]), sender: { streaming: true, retriesUntilDrop: 60 } });
    // The sender was ending (waiting for the dead receiver 0) when receiver 2 came up.
    expect(r.senderEvents.findIndex((e) => e.kind === 'ending')).toBeLessThan(r.senderEvents.findIndex((e) => e.kind === 'joined' && e.joinSlice > 0));
    expectVerified(r, 1);
    expectVerified(r, 2);
    expect(r.receivers[2]!.joinSlice).toBe(r.totalSlices);
  });

  it('the sender holds at most retainSlices reloaded slices and retainSlices pending reloads', () => {
    const worst = { slices: 0, reloadsPending: 0, repairDatagrams: 0 };
    const r = late({
      seed: 7,
      loss: { rate: 0.02 },
      onSenderTransmit: (_at, _bytes, sender) => {
        const t = sender.tableSizes;
        worst.slices = Math.max(worst.slices, t.slices);
        worst.reloadsPending = Math.max(worst.reloadsPending, t.reloadsPending);
        worst.repairDatagrams = Math.max(worst.repairDatagrams, t.repairDatagrams);
      },
    });
    expectVerified(r, 2);
    expect(r.sender.stats.reloads).toBeGreaterThan(8); // more head than one window: reloaded slices were evicted
    expect(worst.slices).toBeLessThanOrEqual(2 * 8);
    expect(worst.reloadsPending).toBeLessThanOrEqual(8);
    expect(worst.repairDatagrams).toBeLessThanOrEqual(2 * 8 * 64); // at most k per stripe per slice held
  });

  it('without --streaming the late receiver stops at once with one clear reason; the others finish', () => {
    const r = late({ seed: 6, sender: { streaming: false } });
    expectVerified(r, 1);
    const x = r.receivers[2]!;
    expect(x.done && !x.ok).toBe(true);
    expect(x.detail).toMatch(/already under way.*--streaming/);
    expect(r.sender.stats.joinsReceived).toBe(2); // receivers 0 and 1, early; the late one never asked
  });

  it('a late receiver whose sink takes the image only in order says so and does not join', () => {
    const r = late({ seed: 8, receiver: { lateJoinBlocker: '--unpack takes the archive only in order' } });
    expectVerified(r, 1);
    const x = r.receivers[2]!;
    expect(x.done && !x.ok).toBe(true);
    expect(x.core.currentState).toBe('done');
    expect(x.detail).toMatch(/under way.*--unpack takes the archive only in order/);
    expect(r.sender.stats.lateJoins).toBe(0);
  });
});
