// udpcast's FEC code against parity recorded from Debian's `udp-sender --fec 8x4/32`
// (test/fixtures/udpcast/session-fec.hex): the TS reference must give the same bytes for
// every row of every stripe that holds data, and rebuild erased blocks from them.

import { describe, expect, it } from 'vitest';
import { gfMul } from '../../../../protocol/fec/gf256.js';
import { decodeData } from '../../../../protocol/udpcast/data.js';
import { decodeFecBlock } from '../../../../protocol/udpcast/fec-block.js';
import {
  decodeUdpcastStripe,
  minStripes,
  stripeBlockCount,
  stripeBlockNo,
  tsUdpcastParityCoder,
  udpcastCoefficient,
} from '../../../../protocol/udpcast/fec-code.js';
import { mulberry32 } from '../../../support/prng.js';
import { RECORDED_BLOCK_BYTES, recordedSession, toHex } from './harness.js';

const B = RECORDED_BLOCK_BYTES;

/** The recorded slices: data blocks (zero-padded to B) and FEC parity by block number. */
function recordedSlices(): Map<number, { bytes: number; stripes: number; data: Map<number, Uint8Array>; fec: Map<number, Uint8Array> }> {
  const slices = new Map<number, { bytes: number; stripes: number; data: Map<number, Uint8Array>; fec: Map<number, Uint8Array> }>();
  const get = (n: number, bytes: number) => {
    let s = slices.get(n);
    if (s === undefined) {
      s = { bytes, stripes: 0, data: new Map(), fec: new Map() };
      slices.set(n, s);
    }
    return s;
  };
  for (const d of recordedSession('fec')) {
    const data = decodeData(d.bytes, B);
    if (data.ok) {
      const padded = new Uint8Array(B);
      padded.set(data.value.payload);
      get(data.value.sliceNo, data.value.sliceBytes).data.set(data.value.blockNo, padded);
    }
    const fec = decodeFecBlock(d.bytes, B);
    if (fec.ok) {
      const s = get(fec.value.sliceNo, fec.value.sliceBytes);
      s.stripes = fec.value.stripes;
      const seen = s.fec.get(fec.value.fecBlockNo);
      // The stock sender sent some FEC blocks twice: the copies must agree.
      if (seen !== undefined) expect(toHex(seen)).toBe(toHex(fec.value.parity));
      s.fec.set(fec.value.fecBlockNo, fec.value.parity.slice());
    }
  }
  return slices;
}

describe('udpcast FEC code', () => {
  it('c(r, j) = 1 / (r XOR (128 + j)): a Cauchy matrix, so c(r, j) * (r XOR (128 + j)) = 1', () => {
    for (let r = 0; r < 128; r += 7) for (let j = 0; j < 128; j += 5) expect(gfMul(udpcastCoefficient(r, j), r ^ (128 + j))).toBe(1);
  });

  it('stripe arithmetic: 19 blocks in 8 stripes hold 3,3,3,2,2,2,2,2; block j of stripe s is s + 8j', () => {
    expect(Array.from({ length: 8 }, (_, s) => stripeBlockCount(19, 8, s))).toEqual([3, 3, 3, 2, 2, 2, 2, 2]);
    expect(stripeBlockCount(1, 8, 1)).toBe(0);
    expect(stripeBlockNo(8, 3, 2)).toBe(19);
    expect([minStripes(1), minStripes(128), minStripes(129), minStripes(1024)]).toEqual([1, 1, 2, 8]);
  });

  it("reproduces every parity block Debian's udp-sender --fec 8x4/32 sent, bit for bit", () => {
    const slices = recordedSlices();
    let compared = 0;
    for (const [sliceNo, s] of slices) {
      const nBlocks = Math.ceil(s.bytes / B);
      expect(s.data.size, `slice ${sliceNo} data`).toBe(nBlocks);
      expect(s.stripes).toBe(8);
      for (let stripe = 0; stripe < s.stripes; stripe++) {
        const k = stripeBlockCount(nBlocks, s.stripes, stripe);
        // An empty stripe: the stock sender sends stale memory there, which receivers ignore.
        if (k === 0) continue;
        const blocks = Array.from({ length: k }, (_, j) => s.data.get(stripeBlockNo(s.stripes, stripe, j))!);
        const prepared = tsUdpcastParityCoder.prepare(blocks, B);
        for (let row = 0; row < 4; row++) {
          const out = new Uint8Array(B);
          tsUdpcastParityCoder.encode(prepared, [row], [out]);
          const sent = s.fec.get(row * s.stripes + stripe);
          expect(sent, `slice ${sliceNo} stripe ${stripe} row ${row} recorded`).toBeDefined();
          expect(toHex(out), `slice ${sliceNo} stripe ${stripe} row ${row}`).toBe(toHex(sent!));
          compared++;
        }
      }
    }
    // Slice 0: 8 stripes x 4 rows; slice 1 (one short block): stripe 0 x 4 rows.
    expect(compared).toBe(36);
  });

  it('rebuilds erased blocks from the recorded parity, as a stock receiver would', () => {
    const s = recordedSlices().get(0)!;
    const k = stripeBlockCount(19, 8, 1);
    const original = Array.from({ length: k }, (_, j) => s.data.get(stripeBlockNo(8, 1, j))!);
    const blocks = original.map((b, j) => (j === 1 ? new Uint8Array(B) : b.slice()));
    blocks[2]!.fill(0);
    decodeUdpcastStripe(
      blocks,
      [1, 2],
      [
        { row: 3, bytes: s.fec.get(3 * 8 + 1)! },
        { row: 0, bytes: s.fec.get(1)! },
      ],
      B,
    );
    expect(blocks.map(toHex)).toEqual(original.map(toHex));
  });

  it('any L distinct rows rebuild any L erased blocks (seeded: k 1..128, rows up to 127)', () => {
    const rand = mulberry32(0xfec0de);
    const n = (m: number) => Math.floor(rand() * m);
    const bb = 64;
    for (let round = 0; round < 60; round++) {
      const k = 1 + n(128);
      const data = Array.from({ length: k }, () => Uint8Array.from({ length: bb }, () => n(256)));
      const l = 1 + n(Math.min(k, 12));
      const erased = [...new Set(Array.from({ length: 4 * l }, () => n(k)))].slice(0, l);
      const rows = [...new Set(Array.from({ length: 4 * l }, () => n(128)))].slice(0, erased.length);
      const prepared = tsUdpcastParityCoder.prepare(data, bb);
      const outs = rows.map(() => new Uint8Array(bb));
      tsUdpcastParityCoder.encode(prepared, rows, outs);
      const blocks = data.map((d, j) => (erased.includes(j) ? new Uint8Array(bb).fill(0x55) : d.slice()));
      decodeUdpcastStripe(
        blocks,
        erased,
        rows.map((row, t) => ({ row, bytes: outs[t]! })),
        bb,
      );
      expect(blocks.map(toHex), `round ${round} k ${k} erased ${erased} rows ${rows}`).toEqual(data.map(toHex));
    }
  });

  it('refuses misuse with RangeError', () => {
    const b = [new Uint8Array(8)];
    expect(() => tsUdpcastParityCoder.encode(tsUdpcastParityCoder.prepare(b, 8), [128], [new Uint8Array(8)])).toThrow(RangeError);
    expect(() =>
      tsUdpcastParityCoder.prepare(
        Array.from({ length: 129 }, () => new Uint8Array(8)),
        8,
      ),
    ).toThrow(RangeError);
    expect(() => tsUdpcastParityCoder.prepare([new Uint8Array(7)], 8)).toThrow(RangeError);
    expect(() => decodeUdpcastStripe([new Uint8Array(8)], [0], [], 8)).toThrow(RangeError);
  });
});
