// The udpcast sender's pacer on virtual time: which first-round losses slow it down, and that
// its token bucket lets datagrams go at the rate it holds.

import { describe, expect, it } from 'vitest';
import { EXCESS_LOSS, Pacer, WIRE_OVERHEAD_BYTES } from '../../../../sender/udpcast/core/pacer.js';

const cfg = { startRateBps: 800e6, minRateBps: 100e6, maxRateBps: 10e9, burstBytes: 64 * 1538, fixed: false };

describe('udpcast pacer', () => {
  it('speeds up while slices lose up to the floor + EXCESS_LOSS, slows down (x0.85) above it', () => {
    const p = new Pacer(cfg, 0);
    // A network that loses 5% of everything: the floor.
    p.onSliceLoss(0.05, 1);
    p.onSliceLoss(0.05, 2);
    expect(p.rateBps).toBeCloseTo(800e6 * 1.1 * 1.1, -3);
    // Overflow just under the excess: still faster (a repair costs less than a slower rate).
    p.onSliceLoss(0.05 + EXCESS_LOSS - 0.01, 3);
    expect(p.decreases).toBe(0);
    const before = p.rateBps;
    // Just over it: slower.
    p.onSliceLoss(0.05 + EXCESS_LOSS + 0.01, 4);
    expect(p.decreases).toBe(1);
    expect(p.rateBps).toBeCloseTo(before * 0.85, -3);
  });

  it('the excess is measured from the lowest loss of the last slices, so steady network loss never slows it', () => {
    const p = new Pacer(cfg, 0);
    for (let i = 0; i < 40; i++) p.onSliceLoss(0.3, i);
    expect(p.decreases).toBe(0);
    expect(p.rateBps).toBe(10e9);
  });

  it('a fixed rate never changes, and the bucket gives a burst, then one datagram per its time at the rate', () => {
    const p = new Pacer({ ...cfg, startRateBps: 8e6, fixed: true }, 0);
    p.onSliceLoss(0.9, 1);
    p.onSliceLoss(0.9, 2);
    expect(p.rateBps).toBe(8e6);
    const cost = 1472 + WIRE_OVERHEAD_BYTES;
    let sent = 0;
    while (p.take(1472, 0)) sent++;
    expect(sent).toBe(Math.floor(cfg.burstBytes / cost));
    // 8 Mbit/s = 1000 bytes per ms: the next datagram's tokens are there at its readyAtMs, not before.
    const at = p.readyAtMs(1472);
    expect(p.take(1472, at - 0.01)).toBe(false);
    expect(p.take(1472, at)).toBe(true);
  });
});
