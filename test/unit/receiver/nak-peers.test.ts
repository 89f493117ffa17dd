// How many receivers of a group are likely to share a NAK's need (receiver/core/nak-scheduler.ts):
// the count a receiver spreads its NAK moment by in a quiet session.

import { describe, expect, it } from 'vitest';
import { poissonPeers } from '../../../receiver/core/nak-scheduler.js';

describe('poissonPeers', () => {
  it('a thousand receivers losing 1% of 128 blocks: about 10 need 5 or more, 2 need 6 or more', () => {
    // P(X >= 5) for X ~ Poisson(1.28) is 0.0100; P(X >= 6) is 0.0021.
    expect(poissonPeers(1000, 5, 1.28)).toBeCloseTo(10.0, 0);
    expect(poissonPeers(1000, 6, 1.28)).toBeCloseTo(2.1, 0);
  });

  it('need 1 at that loss: most of the group', () => {
    // P(X >= 1) = 1 - e^-1.28 = 0.722.
    expect(poissonPeers(1000, 1, 1.28)).toBeCloseTo(722, -1);
  });

  it('is at least 1, and falls as the need grows', () => {
    expect(poissonPeers(1, 3, 1)).toBe(1);
    expect(poissonPeers(1000, 0, 1)).toBe(1);
    expect(poissonPeers(1000, 40, 1.28)).toBe(1);
    expect(poissonPeers(1000, 3, 0)).toBe(1);
    let last = Infinity;
    for (let need = 1; need <= 10; need++) {
      const p = poissonPeers(1000, need, 2);
      expect(p).toBeLessThanOrEqual(last);
      last = p;
    }
  });
});
