// Automatic proactive parity (sender/core/auto-parity.ts): the loss each receiver reports,
// the rack's worst, and the parity per stripe that follows from it, with exact figures.

import { describe, expect, it } from 'vitest';
import { AutoParity, binomialTailAbove, LOSS_HORIZON_PACKETS, MAX_PARITY_SHARE, parityForLoss } from '../../../sender/core/auto-parity.js';
import type { ReceiverRecord } from '../../../sender/core/participants.js';

type Mutable = { -readonly [K in keyof ReceiverRecord]: ReceiverRecord[K] };

function receiver(id: number): Mutable {
  return { id, state: 'active', complete: false, catchUp: false } as Mutable;
}

describe('parityForLoss', () => {
  it('binomial tail: exact small cases', () => {
    expect(binomialTailAbove(2, 0.5, 0)).toBeCloseTo(0.75, 12);
    expect(binomialTailAbove(3, 0.5, 1)).toBeCloseTo(0.5, 12);
    expect(binomialTailAbove(3, 0.5, 3)).toBe(0);
    expect(binomialTailAbove(10, 0, 0)).toBe(0);
    expect(binomialTailAbove(10, 1, 9)).toBe(1);
  });

  it('none without loss; the smallest R whose stripe misses at most 5%; capped at a quarter of k', () => {
    expect(parityForLoss(32, 0)).toBe(0);
    expect(parityForLoss(32, 0.001)).toBe(0);
    expect(parityForLoss(32, 0.01)).toBe(1);
    expect(parityForLoss(32, 0.05)).toBe(4);
    expect(parityForLoss(32, 0.1)).toBe(7);
    expect(parityForLoss(32, 0.5)).toBe(Math.ceil(32 * MAX_PARITY_SHARE));
    expect(parityForLoss(32, 1)).toBe(8);
    expect(parityForLoss(0, 0.5)).toBe(0);
    // 4 of 36 at 5%: a stripe misses more than 4 with probability <= 5%, 3 of 35 would not do.
    expect(binomialTailAbove(36, 0.05, 4)).toBeLessThanOrEqual(0.05);
    expect(binomialTailAbove(35, 0.05, 3)).toBeGreaterThan(0.05);
    let last = 0;
    for (let p = 0; p <= 0.3; p += 0.005) {
      const r = parityForLoss(32, p);
      expect(r).toBeGreaterThanOrEqual(last);
      last = r;
    }
  });
});

describe('AutoParity', () => {
  it('nothing reported: 0 loss and no parity', () => {
    const a = new AutoParity();
    expect(a.loss).toBe(0);
    expect(a.parityFor(32)).toBe(0);
  });

  it('the first STATUS gives the loss so far; later ones the loss since, averaged over LOSS_HORIZON_PACKETS', () => {
    const a = new AutoParity();
    const r = receiver(1);
    a.status(r, 1000, 50_000); // 50 of 1000 lost
    expect(a.loss).toBeCloseTo(0.05, 12);
    expect(a.parityFor(32)).toBe(4);
    // LOSS_HORIZON_PACKETS more DATA, none lost: 50 of 1000 + H.
    const span = 1000 + LOSS_HORIZON_PACKETS;
    a.status(r, span, Math.round((50 / span) * 1e6));
    expect(a.loss).toBeCloseTo(0.05 * Math.exp(-1), 4);
    // A STATUS that spans nothing new changes nothing.
    const before = a.loss;
    a.status(r, span, 999_999);
    expect(a.loss).toBe(before);
  });

  it("the rack's figure is the worst receiver the first pass waits for", () => {
    const a = new AutoParity();
    const x = receiver(1);
    const y = receiver(2);
    a.status(x, 1000, 100_000);
    a.status(y, 1000, 20_000);
    expect(a.loss).toBeCloseTo(0.1, 12);
    expect(a.parityFor(32)).toBe(7);
    // The worst moves to the catch-up pass: it no longer holds the first pass back.
    x.catchUp = true;
    expect(a.loss).toBeCloseTo(0.02, 12);
    expect(a.parityFor(32)).toBe(2);
    // The other completes: nobody left who reported.
    y.complete = true;
    expect(a.loss).toBe(0);
    // A receiver that no longer counts does not raise it either.
    a.status(x, 2000, 500_000);
    expect(a.loss).toBe(0);
  });

  it("the worst receiver's loss falls: the next worst takes over", () => {
    const a = new AutoParity();
    const x = receiver(1);
    const y = receiver(2);
    a.status(x, 1000, 100_000);
    a.status(y, 1000, 30_000);
    // x loses nothing for many horizons.
    const span = 1000 + 20 * LOSS_HORIZON_PACKETS;
    a.status(x, span, Math.round((100 / span) * 1e6));
    expect(a.loss).toBeCloseTo(0.03, 12);
  });
});
