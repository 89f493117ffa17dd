// Automatic proactive parity (the sender's default without --fec) on the simulated network:
// nothing extra on a clean network; under loss, parity ahead that follows the loss the
// receivers report, bounded, and fewer NAKs than the same geometry without it; in a quiet
// session (more receivers than report STATUS) the loss comes from HEARTBEAT.

import { describe, expect, it } from 'vitest';
import { MAX_PARITY_SHARE, parityForLoss } from '../../sender/core/auto-parity.js';
import { type SimOptions, type SimResult, simulate } from '../support/simulate.js';

function identical(r: SimResult): boolean {
  return r.receivers.every((x) => x.ok && Buffer.compare(Buffer.from(x.image), Buffer.from(r.image)) === 0);
}

const naks = (r: SimResult): number => [...r.naksPerSlice.values()].reduce((a, b) => a + b, 0);

// The CLI's default geometry: slices of 256 blocks in 8 stripes of 32.
const stripes = 8;
const k = 32;
const base: Omit<SimOptions, 'seed' | 'loss'> = {
  receivers: 4,
  imageBytes: 40 * stripes * k * 256,
  stripes,
  sliceBlocks: stripes * k,
  latencyMs: 0.2,
  linkRateBps: 1e9,
  maxSteps: 20_000_000,
};

describe('automatic parity', () => {
  it('0% loss (seed 41): no parity ahead, no NAK, no repair', () => {
    const r = simulate({ ...base, seed: 41, sender: { autoParity: true } });
    expect(identical(r)).toBe(true);
    expect(r.sender.stats.proactiveParity).toBe(0);
    expect(r.sender.stats.repairPackets).toBe(0);
    expect(naks(r)).toBe(0);
  });

  it('5% loss, 4 receivers (seed 42): parity ahead follows the loss, bounded; fewer NAKs per slice than none', () => {
    const loss = { rate: 0.05 };
    const auto = simulate({ ...base, seed: 42, loss, sender: { autoParity: true } });
    const none = simulate({ ...base, seed: 42, loss });
    expect(identical(auto)).toBe(true);
    expect(identical(none)).toBe(true);
    const slices = auto.totalSlices;
    const perSlice = auto.sender.stats.proactiveParity / slices;
    const cap = Math.ceil(k * MAX_PARITY_SHARE) * stripes;
    const at5 = parityForLoss(k, 0.05, base.receivers) * stripes;
    console.log(
      `auto parity, 5% loss, 4 receivers: ${perSlice.toFixed(2)} proactive parity/slice (at 5%: ${at5}, cap ${cap}), ` +
        `${(naks(auto) / slices).toFixed(2)} NAKs/slice, ${(auto.sender.stats.repairPackets / slices).toFixed(2)} repairs/slice; ` +
        `none: ${(naks(none) / slices).toFixed(2)} NAKs/slice, ${(none.sender.stats.repairPackets / slices).toFixed(2)} repairs/slice`,
    );
    expect(none.sender.stats.proactiveParity).toBe(0);
    expect(auto.sender.stats.proactiveParity).toBeGreaterThan(0);
    // Bounded: never past the cap, and on average near what 5% asks for (the first slices,
    // before any report, get none; the estimate wanders around the true rate).
    expect(auto.sender.stats.proactiveParity).toBeLessThanOrEqual(slices * cap);
    expect(perSlice).toBeGreaterThan(0.5 * at5);
    expect(perSlice).toBeLessThan(1.5 * at5);
    expect(naks(auto)).toBeLessThan(0.5 * naks(none));
    expect(auto.sender.stats.repairPackets).toBeLessThan(none.sender.stats.repairPackets);
  });

  it('5% loss, 32 receivers, a quiet session (seed 44): the loss from HEARTBEAT sets the parity; half the NAKs per slice of STATUS alone', () => {
    const loss = { rate: 0.05 };
    const opts = { ...base, receivers: 32, imageBytes: 20 * stripes * k * 256, seed: 44, loss, sender: { autoParity: true } };
    // HEARTBEATs as often as a session a thousand times this image's length would see them;
    // and none at all (the simulator's default), where only STATUS tells the loss.
    const hb = simulate({ ...opts, receiver: { heartbeatIntervalMs: 2 } });
    const statusOnly = simulate(opts);
    expect(identical(hb)).toBe(true);
    expect(identical(statusOnly)).toBe(true);
    const slices = hb.totalSlices;
    const perSlice = (r: SimResult): number => r.sender.stats.proactiveParity / slices;
    const want = parityForLoss(k, 0.05, 32) * stripes;
    console.log(
      `auto parity, 5% loss, 32 receivers (for 32 at 5%: ${want} a slice): with HEARTBEAT ${hb.sender.stats.statusReceived} STATUS, ` +
        `${hb.sender.stats.heartbeatsReceived} HEARTBEAT, ${perSlice(hb).toFixed(2)} parity/slice, ${(naks(hb) / slices).toFixed(2)} NAKs/slice; ` +
        `STATUS alone: ${statusOnly.sender.stats.statusReceived} STATUS, ${perSlice(statusOnly).toFixed(2)} parity/slice, ${(naks(statusOnly) / slices).toFixed(2)} NAKs/slice`,
    );
    expect(hb.sender.stats.heartbeatsReceived).toBeGreaterThan(0);
    expect(perSlice(hb)).toBeGreaterThan(0.5 * want);
    expect(perSlice(hb)).toBeLessThanOrEqual(Math.ceil(k * MAX_PARITY_SHARE) * stripes);
    expect(naks(hb)).toBeLessThan(0.5 * naks(statusOnly));
  });

  it('--fec given (fixed redundancy 0): no parity ahead under the same loss', () => {
    const r = simulate({ ...base, seed: 43, loss: { rate: 0.05 }, redundancy: 0 });
    expect(identical(r)).toBe(true);
    expect(r.sender.stats.proactiveParity).toBe(0);
  });
});
