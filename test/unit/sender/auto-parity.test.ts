// Automatic proactive parity (sender/core/auto-parity.ts): the loss each receiver reports,
// the rack's worst, and the parity per stripe that follows from it, with exact figures.

import { describe, expect, it } from 'vitest';
import {
  AutoParity,
  BOOST_MAX,
  binomialTailAbove,
  LONE_RECEIVER_STRIPE_MISS_TARGET,
  LOSS_HORIZON_PACKETS,
  MAX_PARITY_SHARE,
  MISS_NAKS_MAX,
  MISS_STEP,
  PRIOR_LOSS,
  PRIOR_MIN_RECEIVERS,
  parityForLoss,
  SMALL_GROUP_STRIPE_MISS_TARGET,
  STRIPE_MISS_TARGET,
  stripeMissTarget,
} from '../../../sender/core/auto-parity.js';
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

  it('none without loss; for two receivers the smallest R whose stripe misses at most 25% for either; capped at a quarter of k', () => {
    expect(stripeMissTarget(2)).toBe(SMALL_GROUP_STRIPE_MISS_TARGET);
    expect(SMALL_GROUP_STRIPE_MISS_TARGET).toBe(0.25);
    expect(parityForLoss(32, 0, 2)).toBe(0);
    expect(parityForLoss(32, 0.001, 2)).toBe(0);
    expect(parityForLoss(32, 0.01, 2)).toBe(1);
    expect(parityForLoss(32, 0.05, 2)).toBe(3);
    expect(parityForLoss(32, 0.1, 2)).toBe(6);
    expect(parityForLoss(32, 0.5, 2)).toBe(Math.ceil(32 * MAX_PARITY_SHARE));
    expect(parityForLoss(32, 1, 2)).toBe(8);
    expect(parityForLoss(0, 0.5, 2)).toBe(0);
    // 3 of 35 at 5%: each of the two misses more than 3 with probability <= 1 - 0.75^(1/2),
    // so one or the other does with probability <= 25%; 2 of 34 would not do.
    const each = 1 - Math.sqrt(0.75);
    expect(binomialTailAbove(35, 0.05, 3)).toBeLessThanOrEqual(each);
    expect(binomialTailAbove(34, 0.05, 2)).toBeGreaterThan(each);
    let last = 0;
    for (let p = 0; p <= 0.3; p += 0.005) {
      const r = parityForLoss(32, p, 2);
      expect(r).toBeGreaterThanOrEqual(last);
      last = r;
    }
  });

  it('one receiver (or none): no parity ahead at any loss, its NAKs ask for exactly what it lost', () => {
    expect(stripeMissTarget(1)).toBe(LONE_RECEIVER_STRIPE_MISS_TARGET);
    expect(stripeMissTarget(0)).toBe(LONE_RECEIVER_STRIPE_MISS_TARGET);
    expect(LONE_RECEIVER_STRIPE_MISS_TARGET).toBe(1);
    for (const p of [0, 0.001, 0.01, 0.05, 0.1, 0.5, 1]) {
      expect(parityForLoss(32, p)).toBe(0);
      expect(parityForLoss(32, p, 1)).toBe(0);
      expect(parityForLoss(128, p, 0)).toBe(0);
    }
  });
});

describe('parityForLoss over a group', () => {
  it('each of n receivers may miss: the target is shared, so R grows slowly with n', () => {
    expect(parityForLoss(32, 0.01, 4)).toBe(1);
    expect(parityForLoss(32, 0.01, 32)).toBe(3);
    expect(parityForLoss(32, 0.05, 4)).toBe(4);
    expect(parityForLoss(32, 0.1, 4)).toBe(7);
    expect(parityForLoss(32, 0.01, 10_000)).toBe(5);
    // A group of up to PRIOR_MIN_RECEIVERS shares 25%, a larger one 5%: the step at 9 receivers.
    expect(stripeMissTarget(PRIOR_MIN_RECEIVERS)).toBe(SMALL_GROUP_STRIPE_MISS_TARGET);
    expect(stripeMissTarget(PRIOR_MIN_RECEIVERS + 1)).toBe(STRIPE_MISS_TARGET);
    expect(parityForLoss(32, 0.05, PRIOR_MIN_RECEIVERS)).toBe(4);
    expect(parityForLoss(32, 0.05, PRIOR_MIN_RECEIVERS + 1)).toBe(6);
    // 3 of 35 at 1% for 32 receivers: one misses more than 3 with probability <= 5%, 2 of 34 would not do.
    const each = 1 - 0.95 ** (1 / 32);
    expect(binomialTailAbove(35, 0.01, 3)).toBeLessThanOrEqual(each);
    expect(binomialTailAbove(34, 0.01, 2)).toBeGreaterThan(each);
    expect(1 - (1 - binomialTailAbove(34, 0.01, 2)) ** 32).toBeGreaterThan(0.05);
    // Never fewer for more receivers; never above the cap.
    for (const p of [0.001, 0.01, 0.05, 0.1, 0.3]) {
      let last = 0;
      for (const n of [2, 4, 8, 32, 1000, 10_000]) {
        const r = parityForLoss(32, p, n);
        expect(r).toBeGreaterThanOrEqual(last);
        expect(r).toBeLessThanOrEqual(Math.ceil(32 * MAX_PARITY_SHARE));
        last = r;
      }
    }
  });
});

describe('AutoParity', () => {
  it('nothing reported: 0 loss and no parity', () => {
    const a = new AutoParity();
    expect(a.loss).toBe(0);
    expect(a.parityFor(32)).toBe(0);
  });

  it('a group larger than PRIOR_MIN_RECEIVERS: PRIOR_LOSS until the first figure, then what the receivers report, also 0', () => {
    let n = PRIOR_MIN_RECEIVERS;
    const a = new AutoParity(() => n);
    // A small group waits for its STATUS (they come within a quarter window).
    expect(a.loss).toBe(0);
    expect(a.parityFor(32)).toBe(0);
    n = 1000;
    expect(PRIOR_LOSS).toBe(0.01);
    expect(a.loss).toBe(PRIOR_LOSS);
    expect(a.parityFor(32)).toBe(parityForLoss(32, 0.01, 1000));
    expect(a.parityFor(32)).toBe(4);
    // The first HEARTBEAT says nothing was lost: the prior is gone for good.
    const r = receiver(1);
    a.heartbeat(r, 500, 500);
    expect(a.loss).toBe(0);
    expect(a.parityFor(32)).toBe(0);
    r.complete = true;
    expect(a.loss).toBe(0);
  });

  it('miss feedback: NAKs for a slice that had parity raise the factor on the loss, clean slices lower it, resting where the NAKs meet the target', () => {
    const a = new AutoParity(() => 2);
    a.status(receiver(1), 1000, 10_000); // 1%
    expect(a.parityFor(32)).toBe(parityForLoss(32, 0.01, 2));
    expect(a.boost).toBe(1);
    // Clean slices cannot take it below 1.
    a.settled(0, 8);
    expect(a.boost).toBe(1);
    // Two receivers, 8 stripes: the target share of missed slices is 1 - 0.75^8.
    const target = 1 - (1 - SMALL_GROUP_STRIPE_MISS_TARGET) ** 8;
    a.settled(2, 8);
    expect(a.boost).toBeCloseTo(Math.exp(MISS_STEP * (2 - target)), 12);
    a.settled(0, 8);
    expect(a.boost).toBeCloseTo(Math.exp(MISS_STEP * (2 - target) - MISS_STEP * target), 12);
    // NAKs count up to MISS_NAKS_MAX.
    const c = new AutoParity(() => 2);
    c.settled(100, 8);
    expect(c.boost).toBeCloseTo(Math.exp(MISS_STEP * (MISS_NAKS_MAX - target)), 12);
    // Every slice draws more NAKs than the target: it climbs to BOOST_MAX and the parity follows the boosted loss.
    for (let i = 0; i < 200; i++) a.settled(2, 8);
    expect(a.boost).toBe(BOOST_MAX);
    expect(a.loss).toBeCloseTo(0.01, 12);
    expect(a.parityFor(32)).toBe(parityForLoss(32, 0.01 * BOOST_MAX, 2));
    expect(a.parityFor(32)).toBeGreaterThan(parityForLoss(32, 0.01, 2));
    // Misses spread at the target share: it stays where it is (a walk with no drift).
    const b = new AutoParity(() => 2);
    for (let i = 0; i < 10; i++) b.settled(1, 8);
    const before = Math.log(b.boost);
    let misses = 0;
    for (let i = 0; i < 1000; i++) {
      const missed = Math.floor((i + 1) * target) > Math.floor(i * target);
      if (missed) misses++;
      b.settled(missed ? 1 : 0, 8);
    }
    expect(misses).toBe(Math.floor(1000 * target));
    expect(Math.log(b.boost)).toBeCloseTo(before + MISS_STEP * (misses - 1000 * target), 9);
  });

  it('the first STATUS gives the loss so far; later ones the loss since, averaged over LOSS_HORIZON_PACKETS', () => {
    const a = new AutoParity(() => 2);
    const r = receiver(1);
    a.status(r, 1000, 50_000); // 50 of 1000 lost
    expect(a.loss).toBeCloseTo(0.05, 12);
    expect(a.parityFor(32)).toBe(3);
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
    const a = new AutoParity(() => 2);
    const x = receiver(1);
    const y = receiver(2);
    a.status(x, 1000, 100_000);
    a.status(y, 1000, 20_000);
    expect(a.loss).toBeCloseTo(0.1, 12);
    expect(a.parityFor(32)).toBe(6);
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

  it('the session size it is given sets the target: at 1%, 32 receivers get 3, two get 1, one none', () => {
    let n = 2;
    const a = new AutoParity(() => n);
    a.status(receiver(1), 10_000, 10_000); // 1%
    expect(a.parityFor(32)).toBe(1);
    n = 32;
    expect(a.parityFor(32)).toBe(3);
    // The group shrinks to one (the others completed or left): the next slice gets none.
    n = 1;
    expect(a.loss).toBeCloseTo(0.01, 12);
    expect(a.parityFor(32)).toBe(0);
  });

  it('HEARTBEAT counters feed the same estimate: the first gives the loss so far, later ones the loss since (u32 wrap)', () => {
    const a = new AutoParity(() => 32);
    const r = receiver(1);
    a.heartbeat(r, 1000, 950); // 50 of 1000 DATA sequence numbers never read
    expect(a.loss).toBeCloseTo(0.05, 12);
    expect(a.parityFor(32)).toBe(7);
    // LOSS_HORIZON_PACKETS more, none lost, across the 2^32 wrap of both counters.
    const sent0 = 2 ** 32 - 10;
    const b = new AutoParity();
    const q = receiver(2);
    b.heartbeat(q, sent0, sent0 - 50);
    const before = b.loss;
    b.heartbeat(q, (sent0 + LOSS_HORIZON_PACKETS) >>> 0, (sent0 - 50 + LOSS_HORIZON_PACKETS) >>> 0);
    expect(b.loss).toBeCloseTo(before * Math.exp(-1), 6);
    // A HEARTBEAT with nothing new (a repeat) changes nothing.
    const now = b.loss;
    b.heartbeat(q, (sent0 + LOSS_HORIZON_PACKETS) >>> 0, (sent0 - 50 + LOSS_HORIZON_PACKETS) >>> 0);
    expect(b.loss).toBe(now);
  });

  it('STATUS and HEARTBEAT each count from their own last report, into one estimate', () => {
    const a = new AutoParity();
    const r = receiver(1);
    a.status(r, 1000, 0); // no loss in its first 1000
    expect(a.loss).toBe(0);
    a.heartbeat(r, 5000, 4000); // its first HEARTBEAT: only a base, its counters span another range
    expect(a.loss).toBe(0);
    a.heartbeat(r, 5000 + LOSS_HORIZON_PACKETS, 4000 + LOSS_HORIZON_PACKETS / 2); // half of H lost since
    expect(a.loss).toBeCloseTo(0.5 * (1 - Math.exp(-1)), 9);
    // A STATUS spanning the same DATA from its own base: 10% lost since its last.
    const est = a.loss;
    a.status(r, 1000 + LOSS_HORIZON_PACKETS, Math.round(((0.1 * LOSS_HORIZON_PACKETS) / (1000 + LOSS_HORIZON_PACKETS)) * 1e6));
    expect(a.loss).toBeCloseTo(est + (1 - Math.exp(-1)) * (0.1 - est), 4);
  });
});
