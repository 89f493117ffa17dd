// --async --carousel on the simulated network: the image goes N times with no return
// channel; a receiver that missed a slice, or came up late, completes from a later pass,
// and one that cannot is told only once the last pass went by. Geometry: 256-byte blocks,
// 8 stripes of 32 (a slice of 65 536 bytes), 16 slices; 8x4/32 parity ahead.

import { describe, expect, it } from 'vitest';
import { DATA_FLAG_PARITY } from '../../protocol/messages/data.js';
import { type SimOptions, type SimResult, simulate } from '../support/simulate.js';

const SLICES = 16;
const base: Omit<SimOptions, 'seed'> = {
  receivers: 3,
  imageBytes: SLICES * 8 * 32 * 256,
  async: true,
  stripes: 8,
  sliceBlocks: 8 * 32,
  redundancy: 4,
  linkRateBps: 5e8,
  retainSlices: 4,
};
/** DATA datagrams in one pass: every block, and 4 parity per stripe. */
const PER_PASS = SLICES * (8 * 32 + 8 * 4);

function identical(r: SimResult, i: number): boolean {
  const x = r.receivers[i]!;
  return x.ok && Buffer.compare(Buffer.from(x.image), Buffer.from(r.image)) === 0;
}

describe('--async --carousel', () => {
  it('2 passes, no loss (seed 41): every receiver completes in the first; the sender sends the image twice', () => {
    const r = simulate({ ...base, seed: 41, carousel: 2 });
    for (let i = 0; i < 3; i++) expect(identical(r, i)).toBe(true);
    expect(r.sender.stats.dataPackets).toBe(2 * PER_PASS);
    expect(r.sender.stats.ends).toBe(1 + 5); // one between the passes, five at the end
    expect(r.senderEvents.map((e) => e.kind)).toEqual(['started', 'pass', 'ending', 'done']);
    for (const x of r.receivers) expect(x.core.stats.slicesPutOff).toBe(0);
    expect(r.sender.succeeded).toBe(true);
  });

  it('a stripe lost beyond the parity in the first pass (seed 42): put off once, rebuilt from the second', () => {
    // Receiver 0 loses 5 data blocks of stripe 0 of slice 6 in pass 1 only (seq < PER_PASS):
    // 4 parity cannot cover them.
    const lost = new Set([0, 8, 16, 24, 32]);
    const r = simulate({
      ...base,
      seed: 42,
      carousel: 2,
      dropData: (rcv, d) => rcv === 0 && d.seq <= PER_PASS && d.sliceNo === 6 && (d.flags & DATA_FLAG_PARITY) === 0 && lost.has(d.blockNo),
    });
    for (let i = 0; i < 3; i++) expect(identical(r, i), `receiver ${i}: ${r.receivers[i]!.detail}`).toBe(true);
    const s0 = r.receivers[0]!.core.stats;
    expect(s0.slicesPutOff).toBe(1);
    // It held every later slice of pass 1 while slice 6 waited (the window of --async is the
    // image, not the sender's retainSlices of 4): pass 2 only had slice 6 to give it.
    expect(s0.drops.ERR_AHEAD).toBeUndefined();
    expect(s0.maxHeldSlices).toBe(SLICES - 6);
    expect(r.receivers[1]!.core.stats.slicesPutOff).toBe(0);
  });

  it('a receiver that comes up late (seed 43) completes from the second pass, in order', () => {
    // At 100 Mbit/s a pass takes 113 ms, from 120 ms (after the HELLOs of --min-wait). Up at
    // 160 ms, receiver 2 hears the HELLO of 200 ms: the last third of pass 1 is what it gets.
    const r = simulate({ ...base, seed: 43, carousel: 2, linkRateBps: 1e8, join: new Map([[2, 160]]) });
    for (let i = 0; i < 3; i++) expect(identical(r, i), `receiver ${i}: ${r.receivers[i]!.detail}`).toBe(true);
    expect(r.receivers[2]!.core.stats.slicesPutOff).toBeGreaterThan(0);
    expect(r.receivers[0]!.core.stats.slicesPutOff).toBe(0);
  });

  it('a late receiver keeps what it got of pass 1 (seed 46): a stripe lost beyond the parity in pass 2 is no loss', () => {
    // Receiver 2 comes up in the last third of pass 1 (as with seed 43) and lacks the head
    // until pass 2; it holds slices 11..15 of pass 1 meanwhile. In pass 2 it loses 5 blocks of
    // stripe 0 of slice 14, more than 4 parity cover: the copy of pass 1 stands in for it.
    // With a window of the sender's retainSlices it would have let slice 14 go in pass 1.
    const lost = new Set([0, 8, 16, 24, 32]);
    const r = simulate({
      ...base,
      seed: 46,
      carousel: 2,
      linkRateBps: 1e8,
      join: new Map([[2, 160]]),
      dropData: (rcv, d) => rcv === 2 && d.seq > PER_PASS && d.sliceNo === 14 && (d.flags & DATA_FLAG_PARITY) === 0 && lost.has(d.blockNo),
    });
    for (let i = 0; i < 3; i++) expect(identical(r, i), `receiver ${i}: ${r.receivers[i]!.detail}`).toBe(true);
    const s2 = r.receivers[2]!.core.stats;
    expect(s2.drops.ERR_AHEAD).toBeUndefined();
    expect(s2.slicesPutOff).toBeGreaterThan(0);
  });

  it('the same slice lost in both passes (seed 44): the receiver fails once the last pass went by it, naming it', () => {
    const lost = new Set([0, 8, 16, 24, 32]);
    const r = simulate({
      ...base,
      seed: 44,
      carousel: 2,
      dropData: (rcv, d) => rcv === 0 && d.sliceNo === 6 && (d.flags & DATA_FLAG_PARITY) === 0 && lost.has(d.blockNo),
    });
    const x = r.receivers[0]!;
    expect(x.ok).toBe(false);
    expect(x.detail).toBe('slice 6 cannot be rebuilt: stripe 0 has 31 of 32 symbols (--async, no repair)');
    // Only the first pass put it off; it failed in the second, not before.
    expect(x.core.stats.slicesPutOff).toBe(1);
    expect(Buffer.compare(Buffer.from(x.image), Buffer.from(r.image.subarray(0, 6 * 65536)))).toBe(0);
    expect(identical(r, 1) && identical(r, 2)).toBe(true);
  });

  it('without a carousel (seed 45), the same loss fails the receiver in the first pass', () => {
    const lost = new Set([0, 8, 16, 24, 32]);
    const r = simulate({
      ...base,
      seed: 45,
      dropData: (rcv, d) => rcv === 0 && d.sliceNo === 6 && (d.flags & DATA_FLAG_PARITY) === 0 && lost.has(d.blockNo),
    });
    expect(r.receivers[0]!.ok).toBe(false);
    expect(r.receivers[0]!.core.stats.slicesPutOff).toBe(0);
    expect(r.sender.stats.dataPackets).toBe(PER_PASS);
  });
});
