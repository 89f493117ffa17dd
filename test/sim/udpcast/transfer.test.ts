// The udpcast sender core against modelled stock udp-receivers on virtual time: images
// arrive byte-identical through loss, with and without --fec, a dead receiver is dropped
// and the others finish, and nothing a stock receiver would die of is ever sent.

import { describe, expect, it } from 'vitest';
import { sha, simulateUdpcast } from './sim.js';

describe('udpcast sender core ↔ modelled stock receivers', () => {
  it.each([
    [1, 0, 0x11],
    [4, 0, 0x12],
    [4, 0.02, 0x13],
    [4, 0.05, 0x14],
    [8, 0.1, 0x15],
  ])('%i receiver(s), %f loss: every image byte-identical, every receiver complete', (n, loss, seed) => {
    const r = simulateUdpcast({ receivers: n, imageBytes: 300_000 + seed, seed, loss, feedbackLoss: loss });
    const why = `seed 0x${seed.toString(16)}`;
    for (const rcv of r.receivers) {
      expect(rcv.exited, why).toBe('complete');
      expect(sha(rcv.image), why).toBe(sha(r.image));
    }
    expect(
      r.sender.receivers().map((x) => x.state),
      why,
    ).toEqual(new Array(n).fill('complete'));
    expect(r.events.at(-1), why).toEqual({ kind: 'done', ok: true, detail: '' });
    if (loss === 0) {
      expect(r.sender.stats.rexmitBlocks + r.sender.stats.repairFecBlocks, why).toBe(0);
    } else {
      expect(r.sender.stats.rexmitBlocks + r.sender.stats.repairFecBlocks, why).toBeGreaterThan(0);
    }
  });

  it('a receiver that missed the HELLO is in after helloShortMs, not helloIntervalMs: the start does not wait a whole HELLO interval', () => {
    const firstDataMs = (helloShortMs: number | undefined): number => {
      let at = -1;
      const r = simulateUdpcast({
        receivers: 8,
        imageBytes: 50_000,
        seed: 0x31,
        loss: 0.3,
        sender: { helloIntervalMs: 1000, helloShortMs },
        onTransmit: (t, atMs) => {
          if (at < 0 && t.parts.length === 2) at = atMs;
        },
      });
      for (const rcv of r.receivers) expect(sha(rcv.image)).toBe(sha(r.image));
      expect(r.events.at(-1)).toEqual({ kind: 'done', ok: true, detail: '' });
      return at;
    };
    // Seed 0x31 loses a first HELLO: with one HELLO a second, the start waits for the next.
    expect(firstDataMs(undefined)).toBeGreaterThanOrEqual(1000);
    expect(firstDataMs(100)).toBeLessThan(500);
  });

  it('with several receivers losing different blocks, repair goes out as parity, and fewer datagrams than the union of losses', () => {
    const r = simulateUdpcast({ receivers: 8, imageBytes: 400_000, seed: 0x21, loss: 0.05 });
    for (const rcv of r.receivers) expect(sha(rcv.image)).toBe(sha(r.image));
    const s = r.sender.stats;
    expect(s.repairFecBlocks).toBeGreaterThan(s.rexmitBlocks);
    expect(r.receivers.reduce((a, x) => a + x.stats.fecUsed, 0)).toBeGreaterThan(0);
    // Without parity repair (udpcast's own way), the same run needs more repair datagrams.
    const plain = simulateUdpcast({ receivers: 8, imageBytes: 400_000, seed: 0x21, loss: 0.05, parityRepair: false });
    for (const rcv of plain.receivers) expect(sha(rcv.image)).toBe(sha(plain.image));
    expect(plain.sender.stats.repairFecBlocks).toBe(0);
    expect(s.rexmitBlocks + s.repairFecBlocks).toBeLessThan(plain.sender.stats.rexmitBlocks);
  });

  it('--fec 8x4/16: the first pass carries parity, and most loss is repaired without a round', () => {
    const r = simulateUdpcast({ receivers: 4, imageBytes: 300_000, seed: 0x31, loss: 0.03, fec: { stripes: 8, redundancy: 4 }, sliceBlocks: 128 });
    for (const rcv of r.receivers) expect(sha(rcv.image)).toBe(sha(r.image));
    expect(r.sender.stats.fecBlocks).toBe(Math.ceil(300_000 / (128 * 256)) * 8 * 4);
    expect(r.receivers.reduce((a, x) => a + x.stats.fecUsed, 0)).toBeGreaterThan(0);
  });

  it('a receiver killed mid-transfer is dropped after retriesUntilDrop silent rounds; the others complete', () => {
    const r = simulateUdpcast({ receivers: 4, imageBytes: 3_000_000, seed: 0x41, loss: 0.02, kill: new Map([[2, 70]]) });
    const states = r.sender.receivers().map((x) => x.state);
    expect(states).toEqual(['complete', 'complete', 'dropped', 'complete']);
    expect(r.sender.receivers()[2]!.detail).toMatch(/no answer to 40 REQACK rounds/);
    for (const i of [0, 1, 3]) expect(sha(r.receivers[i]!.image)).toBe(sha(r.image));
    expect(r.events.some((e) => e.kind === 'dropped' && e.clNr === 2)).toBe(true);
    expect(r.events.at(-1)).toMatchObject({ kind: 'done', ok: false });
  });

  it('half duplex (one slice in flight) and point-to-point to a single receiver work too', () => {
    const half = simulateUdpcast({ receivers: 2, imageBytes: 100_000, seed: 0x51, loss: 0.02, sender: { maxInFlightSlices: 1 } });
    for (const rcv of half.receivers) expect(sha(rcv.image)).toBe(sha(half.image));
    const p2p = simulateUdpcast({ receivers: 1, imageBytes: 100_000, seed: 0x52, loss: 0.02, sender: { pointToPoint: 'auto' } });
    expect(p2p.sender.currentDataAddress).toBe('198.18.0.11');
    expect(sha(p2p.receivers[0]!.image)).toBe(sha(p2p.image));
  });

  it('sends only what a stock receiver survives: REQACK 144 bytes, blockNo < 1024, no slice past last-complete + 2', () => {
    let maxReqack = 0;
    let minReqack = Infinity;
    const r = simulateUdpcast({
      receivers: 3,
      imageBytes: 500_000,
      seed: 0x61,
      loss: 0.08,
      feedbackLoss: 0.08,
      onTransmit: (t) => {
        const b = t.parts[0]!;
        if (b[1] === 6) {
          maxReqack = Math.max(maxReqack, b.byteLength);
          minReqack = Math.min(minReqack, b.byteLength);
        }
      },
    });
    expect([minReqack, maxReqack]).toEqual([144, 144]);
    for (const rcv of r.receivers) {
      expect(rcv.exited).toBe('complete');
      expect(sha(rcv.image)).toBe(sha(r.image));
    }
  });

  it('a zero-byte image is just the end slice', () => {
    const r = simulateUdpcast({ receivers: 2, imageBytes: 0, seed: 0x71 });
    expect(r.receivers.map((x) => x.exited)).toEqual(['complete', 'complete']);
    expect(r.receivers.map((x) => x.image.byteLength)).toEqual([0, 0]);
  });

  it.each([0x81, 0x82, 0x83, 0x84, 0x85, 0x86])('seed 0x%s: 6 receivers, 10%% loss both ways, never hangs', (seed) => {
    const r = simulateUdpcast({ receivers: 6, imageBytes: 200_000, seed, loss: 0.1, feedbackLoss: 0.1, maxTimeMs: 120_000 });
    for (const rcv of r.receivers) expect(sha(rcv.image), `seed 0x${seed.toString(16)}`).toBe(sha(r.image));
  });
});
