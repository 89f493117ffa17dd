// A receiver credited by silence: in a quiet session (more receivers than report, see
// sender/core/probe.ts) the sender takes a silent receiver to be at least where a probe
// round asked, and frees a slice once every receiver is taken to hold it. With feedback
// lost (here half or more of every receiver's datagrams) a receiver behind can lose its
// answers two rounds running and be credited with a slice it lacks; the slice is freed and
// its NAKs name a slice the sender no longer holds. Before sender/core/nak-router.ts read
// such a slice again, the NAK was ignored and that receiver waited for ever (seed 3 below
// ran into the simulator's 60 s limit with 3,733 NAKs ignored).

import { describe, expect, it } from 'vitest';
import { type SimOptions, simulate } from '../support/simulate.js';

const base: Omit<SimOptions, 'seed' | 'feedbackLoss'> = {
  receivers: 16,
  imageBytes: 2 << 20,
  blockBytes: 1448,
  sliceBlocks: 64,
  loss: { rate: 0.02 },
  latencyMs: 0.2,
  linkRateBps: 1e9,
  retainSlices: 8,
  maxTimeMs: 60_000,
  maxSteps: 50_000_000,
};

describe('a slice freed while a receiver credited by silence still lacks it', () => {
  it('a source that can be read again (a file: the catch-up pass): the slice is read again and every receiver verifies (seeds 12 and 15)', () => {
    for (const [seed, feedbackLoss, freed] of [
      [12, 0.5, 1],
      [15, 0.7, 4],
    ] as const) {
      const r = simulate({ ...base, seed, feedbackLoss, sender: { catchUp: true } });
      expect(r.receivers.filter((x) => x.ok)).toHaveLength(16);
      expect(r.sender.stats.freedSliceNaks).toBe(freed);
      expect(r.sender.stats.reloads).toBe(freed);
      expect(r.sender.stats.naksIgnored).toBe(0);
      expect(r.timeMs).toBeLessThan(1000);
    }
  });

  it('--no-catch-up with a file (the source can still be read again): the slice is read again too (seed 12)', () => {
    const r = simulate({ ...base, seed: 12, feedbackLoss: 0.5, sender: { catchUp: false, canReload: true } });
    expect(r.receivers.filter((x) => x.ok)).toHaveLength(16);
    expect(r.sender.stats.freedSliceNaks).toBe(1);
    expect(r.sender.stats.reloads).toBe(1);
  });

  it('a source read once (stdin): that receiver is dropped, saying why, when it asks again FREED_CONFIRM_MS later (seed 12)', () => {
    const r = simulate({ ...base, seed: 12, feedbackLoss: 0.5 });
    const bad = r.receivers.filter((x) => !x.ok);
    expect(bad.map((x) => x.index)).toEqual([3]);
    expect(bad[0]!.detail).toBe('dropped by the sender: data no longer available for repair');
    expect(r.sender.stats.reloads).toBe(0);
    expect(r.sender.stats.freedSliceNaks).toBe(9);
    expect(r.timeMs).toBeLessThan(1000);
  });

  it('a NAK that crossed its repair (one NAK for a freed slice, not repeated) drops nobody (seed 4)', () => {
    // Dropped on its first NAK for a freed slice, a receiver whose NAK had crossed the repair
    // it asked for went too (receiver 2 at this seed, when the confirmation came in). Now the
    // only one dropped is receiver 14, which asked for its freed slice again and again (all 8
    // of these NAKs are its own).
    const r = simulate({ ...base, seed: 4, feedbackLoss: 0.7 });
    expect(r.receivers.filter((x) => !x.ok).map((x) => x.index)).toEqual([14]);
    expect(r.sender.stats.freedSliceNaks).toBe(8);
  });
});
