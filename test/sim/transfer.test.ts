// Whole transfers on the simulated network: the real cores, virtual time, seeded loss.
// Every scenario checks that every receiver ends with a byte-identical, verified copy;
// the deterministic ones also check exact counters. The seed is in each test's name.

import { describe, expect, it } from 'vitest';
import { Reason } from '../../protocol/reasons.js';
import { type SimOptions, type SimResult, simulate } from '../support/simulate.js';

function expectAllIdentical(r: SimResult): void {
  for (const x of r.receivers) {
    if (!x.ok || Buffer.compare(Buffer.from(x.image), Buffer.from(r.image)) !== 0) {
      throw new Error(`seed ${r.seed}: receiver ${x.index} ok=${x.ok} detail="${x.detail}" bytes=${x.image.byteLength}/${r.image.byteLength}`);
    }
  }
  expect(r.sender.succeeded).toBe(true);
  expect(r.sender.receiverList().every((x) => x.state === 'verified')).toBe(true);
}

function totalNaks(r: SimResult): number {
  let n = 0;
  for (const v of r.naksPerSlice.values()) n += v;
  return n;
}

describe('lossless transfer', () => {
  it('one receiver, seed 1: one DATA per block, no repair, exact counters', () => {
    const r = simulate({ receivers: 1, imageBytes: 100_000, seed: 1 });
    expectAllIdentical(r);
    const blocks = Math.ceil(100_000 / 256);
    expect(r.sender.stats.dataPackets).toBe(blocks);
    expect(r.sender.stats.repairPackets).toBe(0);
    expect(r.sender.stats.naksReceived).toBe(0);
    const rs = r.receivers[0]!.core.stats;
    expect(rs.dataPackets).toBe(blocks);
    expect(rs.naksSent).toBe(0);
    expect(rs.decodedBlocks).toBe(0);
    expect(rs.duplicates).toBe(0);
    expect(r.senderEvents.map((e) => e.kind)).toEqual(['joined', 'started', 'ending', 'reported', 'done']);
  });

  it('an empty image and a one-byte image, seed 2', () => {
    for (const imageBytes of [0, 1]) {
      const r = simulate({ receivers: 2, imageBytes, seed: 2 });
      expectAllIdentical(r);
      expect(r.sender.stats.dataPackets).toBe(imageBytes === 0 ? 0 : 1);
    }
  });

  it('size unknown in advance (stdin), a short last slice, seed 3', () => {
    const r = simulate({ receivers: 3, imageBytes: 64 * 256 * 5 + 1000, seed: 3, unknownSize: true, loss: { rate: 0.02 } });
    expectAllIdentical(r);
  });
});

describe('repair with exact counters', () => {
  it('the larger NAK goes first and suppresses the smaller; one burst of 2 parity repairs both', () => {
    // Receiver 0 loses block 5 of slice 1; receiver 1 loses blocks 5 and 9. Backoff bands:
    // need 2 speaks in [2, 4) ms, need 1 in [6, 8) ms, so receiver 1's NAK is heard first.
    const r = simulate({
      receivers: 2,
      imageBytes: 64 * 256 * 4,
      seed: 4,
      latencyMs: 0.2,
      dropData: (rcv, d) => d.sliceNo === 1 && (d.flags & 4) === 0 && (d.blockNo === 5 || (rcv === 1 && d.blockNo === 9)),
    });
    expectAllIdentical(r);
    expect(r.sender.stats.naksReceived).toBe(1);
    expect(r.sender.stats.repairPackets).toBe(2);
    const [r0, r1] = r.receivers.map((x) => x.core.stats);
    expect(r0!.naksSent).toBe(0);
    expect(r0!.naksSuppressed).toBe(1);
    expect(r0!.decodedBlocks).toBe(1);
    expect(r1!.naksSent).toBe(1);
    expect(r1!.decodedBlocks).toBe(2);
    // Receiver 0 needed one of the two: the second found it already verifying.
    expect(r0!.parityPackets).toBe(1);
    expect(r1!.parityPackets).toBe(2);
  });

  it('a lost repair packet is asked for again and answered at once', () => {
    // Receiver 0 loses block 3 of slice 0, then the first parity symbol sent for it.
    const r = simulate({
      receivers: 1,
      imageBytes: 64 * 256 * 2,
      seed: 5,
      dropData: (_rcv, d) => d.sliceNo === 0 && (((d.flags & 4) === 0 && d.blockNo === 3) || ((d.flags & 1) !== 0 && d.blockNo === 0)),
    });
    expectAllIdentical(r);
    expect(r.sender.stats.naksReceived).toBe(2);
    expect(r.sender.stats.repairPackets).toBe(2);
    expect(r.receivers[0]!.core.stats.decodedBlocks).toBe(1);
  });
});

describe('loss, bursts, reordering, duplication', () => {
  const cases: [string, Partial<SimOptions>][] = [];
  for (const rate of [0, 0.01, 0.02, 0.05, 0.1]) {
    for (const receivers of [1, 4, 16]) cases.push([`${receivers} receivers, ${rate * 100}% loss`, { receivers, loss: { rate } }]);
  }
  cases.push(['8 receivers, 2% loss in bursts of 8', { receivers: 8, loss: { rate: 0.02, burst: 8 } }]);
  cases.push(['8 receivers, 5% loss in bursts of 20, 4 stripes', { receivers: 8, loss: { rate: 0.05, burst: 20 }, stripes: 4 }]);
  cases.push(['6 receivers, 2% loss, 1 ms jitter, 5% duplicates', { receivers: 6, loss: { rate: 0.02 }, jitterMs: 1, duplicate: 0.05 }]);
  cases.push(['6 receivers, 2% loss, 5% feedback loss', { receivers: 6, loss: { rate: 0.02 }, feedbackLoss: 0.05 }]);
  cases.push(['4 receivers, 10% loss, 1 Gbit/s link', { receivers: 4, loss: { rate: 0.1 }, linkRateBps: 1e9 }]);

  cases.forEach(([name, opts], i) => {
    const seed = 100 + i;
    it(`${name}, seed ${seed}`, () => {
      const r = simulate({ imageBytes: 400_000, seed, ...opts } as SimOptions);
      expectAllIdentical(r);
      if (opts.loss?.rate === 0 && opts.duplicate === undefined) {
        expect(r.sender.stats.repairPackets).toBe(0);
        expect(totalNaks(r)).toBe(0);
      }
      if ((opts.loss?.rate ?? 0) >= 0.05) expect(r.sender.stats.repairPackets).toBeGreaterThan(0);
      // Bounded memory: a receiver never holds more than the sender's retention window.
      for (const x of r.receivers) expect(x.core.stats.maxHeldSlices).toBeLessThanOrEqual(16);
    });
  });
});

describe('feedback does not grow linearly with receivers', () => {
  it('200 receivers at 1% loss, seed 7: NAKs per slice stay near the 10-receiver count', () => {
    const base: Omit<SimOptions, 'receivers'> = {
      imageBytes: 1_000_000,
      seed: 7,
      loss: { rate: 0.01 },
      latencyMs: 0.2,
      jitterMs: 0.1,
      linkRateBps: 1e9,
      maxSteps: 20_000_000,
    };
    const rows: string[] = [];
    const perSlice: Record<number, number> = {};
    for (const receivers of [10, 200]) {
      const r = simulate({ ...base, receivers });
      expectAllIdentical(r);
      const naks = totalNaks(r);
      // Without suppression every receiver that lost something in a slice would ask at
      // least once: the slices each receiver had to repair are the baseline.
      const unsuppressed = r.receivers.reduce((a, x) => a + x.core.stats.slicesDecoded, 0);
      perSlice[receivers] = naks / r.totalSlices;
      rows.push(
        `${receivers} receivers: ${naks} NAKs over ${r.totalSlices} slices = ${perSlice[receivers].toFixed(2)}/slice ` +
          `(max ${Math.max(...r.naksPerSlice.values())}), ${unsuppressed} receiver-slices repaired ` +
          `(unsuppressed: >= ${(unsuppressed / r.totalSlices).toFixed(1)}/slice), repair packets ${r.sender.stats.repairPackets}`,
      );
      // Suppression keeps NAKs a small fraction of what every receiver asking would send.
      if (receivers === 200) expect(naks).toBeLessThan(unsuppressed / 10);
    }
    console.log(rows.join('\n'));
    // 20x the receivers, far less than 20x the NAKs.
    expect(perSlice[200]).toBeLessThan(perSlice[10]! * 4);
  });
});

describe('one slow or dead node does not hold the rack', () => {
  it('a receiver that dies mid-transfer is dropped; the others verify (seed 8)', () => {
    const r = simulate({
      receivers: 5,
      imageBytes: 2_000_000,
      seed: 8,
      loss: { rate: 0.01 },
      linkRateBps: 1e9,
      kill: new Map([[2, 5]]),
    });
    for (const x of r.receivers) {
      if (x.index === 2) continue;
      expect(x.ok, `receiver ${x.index}: ${x.detail}`).toBe(true);
      expect(Buffer.compare(Buffer.from(x.image), Buffer.from(r.image))).toBe(0);
    }
    const dead = r.sender.receiverList().find((x) => x.id === 0x102)!;
    expect(dead.state).toBe('dropped');
    expect(dead.reason).toBe(Reason.NoAnswer);
    expect(r.senderEvents.filter((e) => e.kind === 'dropped')).toHaveLength(1);
    expect(r.sender.succeeded).toBe(false);
  });

  it('a receiver with a slow disk slows the transfer but every copy is right (seed 9)', () => {
    const r = simulate({
      receivers: 4,
      imageBytes: 1_000_000,
      seed: 9,
      loss: { rate: 0.02 },
      linkRateBps: 1e9,
      sinkBytesPerMs: (i) => (i === 1 ? 20_000 : undefined),
    });
    expectAllIdentical(r);
    // 1 MB at 20 MB/s: the slow disk sets the pace (>= 50 ms), and its queue stays bounded.
    expect(r.timeMs).toBeGreaterThanOrEqual(50);
    for (const x of r.receivers) expect(x.core.stats.maxHeldSlices).toBeLessThanOrEqual(16);
  });
});
