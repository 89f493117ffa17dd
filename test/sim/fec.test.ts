// Forward error correction on the simulated network: parity sent ahead (--fec), repair
// at scale, and --async with no return channel at all.

import { describe, expect, it } from 'vitest';
import { Reason } from '../../protocol/reasons.js';
import { binomialTailAbove } from '../../sender/core/auto-parity.js';
import { type SimOptions, type SimResult, simulate } from '../support/simulate.js';

function identical(r: SimResult): boolean {
  return r.receivers.every((x) => x.ok && Buffer.compare(Buffer.from(x.image), Buffer.from(r.image)) === 0);
}

describe('--fec 8x4/32: parity sent ahead', () => {
  it('500 receivers, 2% independent loss each (seed 21): every copy identical, repair per slice within the bound', () => {
    const stripes = 8;
    const k = 32;
    const r = 4;
    const p = 0.02;
    const receivers = 500;
    const fec = simulate({
      receivers,
      imageBytes: 6 * stripes * k * 256,
      seed: 21,
      loss: { rate: p },
      stripes,
      sliceBlocks: stripes * k,
      redundancy: r,
      latencyMs: 0.2,
      linkRateBps: 1e9,
      maxSteps: 50_000_000,
    });
    expect(identical(fec)).toBe(true);
    const slices = fec.totalSlices;
    const repairPerSlice = fec.sender.stats.repairPackets / slices;
    // The bound. A receiver needs repair in a stripe when it lost more than r of the
    // k + r symbols sent; one burst sized to the largest request serves all, so a stripe
    // costs E[max over receivers of (losses - r)] = sum over j >= 1 of P(max >= j), and
    // P(max >= j) <= min(1, N * P(L > r + j - 1)), L ~ Binomial(k + r, p). A burst's own
    // packets are lost at the same rate, which can need a second, smaller burst: allow 2x.
    let perStripe = 0;
    for (let j = 1; j <= k; j++) perStripe += Math.min(1, receivers * binomialTailAbove(k + r, p, r + j - 1));
    const bound = 2 * stripes * perStripe;
    let single = 0;
    for (let j = 1; j <= k; j++) single += binomialTailAbove(k + r, p, r + j - 1);
    // Without --fec, the same 500 receivers and the same loss (the default: one stripe of 128 blocks).
    const plain = simulate({
      receivers,
      imageBytes: 6 * stripes * k * 256,
      seed: 21,
      loss: { rate: p },
      stripes: 1,
      sliceBlocks: 128,
      latencyMs: 0.2,
      linkRateBps: 1e9,
      maxSteps: 50_000_000,
    });
    expect(identical(plain)).toBe(true);
    const naks = (x: SimResult) => [...x.naksPerSlice.values()].reduce((a, b) => a + b, 0);
    console.log(
      `--fec 8x4/32, 500 receivers, 2% loss: ${repairPerSlice.toFixed(2)} repair packets/slice ` +
        `(bound ${bound.toFixed(2)}; one receiver alone: ${(stripes * single).toFixed(4)}), ` +
        `${fec.sender.stats.proactiveParity / slices} proactive parity/slice, ${(naks(fec) / slices).toFixed(2)} NAKs/slice, ${fec.timeMs.toFixed(1)} ms\n` +
        `no FEC, same scenario: ${(plain.sender.stats.repairPackets / plain.totalSlices).toFixed(2)} repair packets/slice ` +
        `of 128 blocks, ${(naks(plain) / plain.totalSlices).toFixed(2)} NAKs/slice, ${plain.timeMs.toFixed(1)} ms`,
    );
    expect(repairPerSlice).toBeLessThanOrEqual(bound);
    expect(fec.sender.stats.proactiveParity).toBe(slices * stripes * r);
  });
});

describe('--async: no return channel', () => {
  const base: Omit<SimOptions, 'seed' | 'loss'> = {
    receivers: 10,
    imageBytes: 16 * 8 * 32 * 256,
    async: true,
    stripes: 8,
    sliceBlocks: 8 * 32,
    linkRateBps: 5e8,
  };

  it('1% loss, 8x4/32 (seed 31): completes, and the receivers sent nothing', () => {
    const r = simulate({ ...base, seed: 31, loss: { rate: 0.01 }, redundancy: 4 });
    expect(identical(r)).toBe(true);
    for (const x of r.receivers) {
      expect(x.core.stats.naksSent).toBe(0);
      expect(x.core.stats.statusSent).toBe(0);
    }
    expect(r.sender.stats.joinsReceived).toBe(0);
    expect(r.sender.stats.repairPackets).toBe(0);
    expect(r.sender.succeeded).toBe(true);
  });

  it('5% loss, 8x16/32 (seed 32): the redundancy covers it', () => {
    const r = simulate({ ...base, seed: 32, loss: { rate: 0.05 }, redundancy: 16 });
    expect(identical(r)).toBe(true);
  });

  it('5% loss, 8x2/32 (seed 33): receivers fail naming the slice, and never deliver a wrong byte', () => {
    const r = simulate({ ...base, seed: 33, loss: { rate: 0.05 }, redundancy: 2 });
    let failed = 0;
    for (const x of r.receivers) {
      // Whatever a receiver delivered is a correct prefix of the image.
      expect(Buffer.compare(Buffer.from(x.image), Buffer.from(r.image.subarray(0, x.image.byteLength)))).toBe(0);
      if (!x.ok) {
        failed++;
        expect(x.done).toBe(true);
        expect(x.detail).toMatch(/^slice \d+ cannot be rebuilt: stripe \d+ has \d+ of \d+ symbols/);
      }
    }
    expect(failed).toBeGreaterThan(0);
    void Reason;
  });
});
