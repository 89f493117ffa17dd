import { describe, expect, it } from 'vitest';
import {
  blockPayloadBytes,
  blocksInSlice,
  checkDataAgainstSession,
  fullSliceBytes,
  type Geometry,
  IMAGE_BYTES_UNKNOWN,
  maxParity,
  sliceBytesOf,
  stripeBlocks,
  totalSlices,
} from '../../../protocol/geometry.js';
import { DATA_FLAG_FINAL_SLICE, DATA_FLAG_LAST, DATA_FLAG_PARITY, DATA_FLAG_REPAIR, type Data } from '../../../protocol/messages/data.js';
import type { ProtocolErrorCode, Result } from '../../../protocol/result.js';

// 10 blocks of 1000 bytes per slice in 3 stripes; 25 500 bytes = slices of 10 000, 10 000 and 5 500.
// The last slice has 6 blocks (the 6th of 500 bytes), 2 in each stripe.
const G: Geometry = { blockBytes: 1000, sliceBlocks: 10, stripes: 3, imageBytes: 25_500 };

/** The data block a correct sender sends for (sliceNo, blockNo) of an image of known size. */
function dataBlock(g: Geometry, sliceNo: number, blockNo: number, flags = 0): Data {
  const sliceBytes = sliceBytesOf(g, g.imageBytes, sliceNo);
  const final = sliceNo === totalSlices(g, g.imageBytes) - 1 ? DATA_FLAG_FINAL_SLICE : 0;
  return {
    sessionId: 1,
    seq: 0,
    sliceNo,
    sliceBytes,
    flags: flags | final,
    stripe: 0,
    blockNo,
    payload: new Uint8Array(blockPayloadBytes(g, sliceBytes, blockNo)),
  };
}

/** The parity symbol a correct sender sends for (sliceNo, stripe, index). */
function paritySymbol(g: Geometry, sliceNo: number, stripe: number, index: number): Data {
  return {
    ...dataBlock(g, sliceNo, 0),
    flags: dataBlock(g, sliceNo, 0).flags | DATA_FLAG_PARITY,
    stripe,
    blockNo: index,
    payload: new Uint8Array(g.blockBytes),
  };
}

function expectRejected(r: Result<Data>, code: ProtocolErrorCode, detail: RegExp): void {
  expect(r.ok ? 'ok' : `${r.code}: ${r.detail}`).toMatch(code);
  if (!r.ok) expect(r.detail).toMatch(detail);
}

describe('slice arithmetic', () => {
  it('sizes of the example geometry', () => {
    expect(fullSliceBytes(G)).toBe(10_000);
    expect(totalSlices(G, G.imageBytes)).toBe(3);
    expect([0, 1, 2, 3].map((s) => sliceBytesOf(G, G.imageBytes, s))).toEqual([10_000, 10_000, 5_500, 0]);
    expect(blocksInSlice(G, 10_000)).toBe(10);
    expect(blocksInSlice(G, 5_500)).toBe(6);
    expect(blocksInSlice(G, 1)).toBe(1);
    expect([0, 4, 5].map((b) => blockPayloadBytes(G, 5_500, b))).toEqual([1000, 1000, 500]);
    expect([0, 1, 2].map((s) => stripeBlocks(G, 6, s))).toEqual([2, 2, 2]);
    expect([0, 1, 2].map((s) => stripeBlocks(G, 10, s))).toEqual([4, 3, 3]);
  });

  it('an empty image has no slices; an exact multiple has no short slice', () => {
    expect(totalSlices(G, 0)).toBe(0);
    expect(totalSlices(G, 30_000)).toBe(3);
    expect(sliceBytesOf(G, 30_000, 2)).toBe(10_000);
    expect(totalSlices(G, 30_001)).toBe(4);
    expect(sliceBytesOf(G, 30_001, 3)).toBe(1);
  });

  it('maxParity(k) leaves k + m <= 256 symbols', () => {
    expect(maxParity(1)).toBe(255);
    expect(maxParity(16)).toBe(240);
    expect(maxParity(255)).toBe(1);
  });

  it('stripeBlocks sums to the block count and matches "block b is in stripe b % stripes"', () => {
    const mismatches: string[] = [];
    for (let stripes = 1; stripes <= 128; stripes++) {
      const g: Geometry = { ...G, stripes, sliceBlocks: 4096 };
      for (let nBlocks = 1; nBlocks <= 300; nBlocks++) {
        let sum = 0;
        for (let s = 0; s < stripes; s++) {
          const k = stripeBlocks(g, nBlocks, s);
          // Blocks s, s + stripes, s + 2*stripes, ... below nBlocks.
          const expected = s < nBlocks ? Math.ceil((nBlocks - s) / stripes) : 0;
          if (k !== expected) mismatches.push(`stripes ${stripes} nBlocks ${nBlocks} stripe ${s}: ${k} != ${expected}`);
          sum += k;
        }
        if (sum !== nBlocks) mismatches.push(`stripes ${stripes} nBlocks ${nBlocks}: sum ${sum}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('stripeBlocks sums to the block count for the largest slices', () => {
    for (const stripes of [17, 31, 64, 127, 128]) {
      const g: Geometry = { ...G, stripes, sliceBlocks: 4096 };
      for (const nBlocks of [4095, 4096]) {
        let sum = 0;
        for (let s = 0; s < stripes; s++) sum += stripeBlocks(g, nBlocks, s);
        expect(sum).toBe(nBlocks);
      }
    }
  });
});

describe('checkDataAgainstSession accepts what a correct sender sends', () => {
  const geometries: readonly Geometry[] = [
    G,
    { blockBytes: 1000, sliceBlocks: 10, stripes: 3, imageBytes: 30_000 }, // exact multiple: full final slice
    { blockBytes: 1000, sliceBlocks: 10, stripes: 3, imageBytes: 30_001 }, // final slice of 1 byte
    { blockBytes: 1000, sliceBlocks: 10, stripes: 3, imageBytes: 1 }, // whole image smaller than a block
    { blockBytes: 16, sliceBlocks: 255, stripes: 1, imageBytes: 16 * 255 * 2 - 3 }, // k = 255, one parity index
    { blockBytes: 512, sliceBlocks: 40, stripes: 40, imageBytes: 512 * 40 + 512 * 7 }, // one block per stripe
  ];

  it.each(geometries.map((g) => [JSON.stringify(g), g] as const))('every data block and parity index of %s', (_n, g) => {
    const rejected: string[] = [];
    const n = totalSlices(g, g.imageBytes);
    for (let sliceNo = 0; sliceNo < n; sliceNo++) {
      const nBlocks = blocksInSlice(g, sliceBytesOf(g, g.imageBytes, sliceNo));
      for (let b = 0; b < nBlocks; b++) {
        const flags = b === nBlocks - 1 ? DATA_FLAG_LAST : 0;
        for (const d of [dataBlock(g, sliceNo, b, flags), dataBlock(g, sliceNo, b, DATA_FLAG_REPAIR)]) {
          const r = checkDataAgainstSession(g, d);
          if (!r.ok) rejected.push(`slice ${sliceNo} block ${b}: ${r.code} ${r.detail}`);
        }
      }
      for (let s = 0; s < g.stripes; s++) {
        const k = stripeBlocks(g, nBlocks, s);
        for (let i = 0; i < (k === 0 ? 0 : maxParity(k)); i++) {
          const r = checkDataAgainstSession(g, paritySymbol(g, sliceNo, s, i));
          if (!r.ok) rejected.push(`slice ${sliceNo} stripe ${s} parity ${i}: ${r.code} ${r.detail}`);
        }
      }
    }
    expect(rejected).toEqual([]);
  });

  it('returns the same Data it was given', () => {
    const d = dataBlock(G, 2, 5);
    expect(checkDataAgainstSession(G, d)).toEqual({ ok: true, value: d });
  });

  it("accepts the image's short last slice: its short last block and full-size parity", () => {
    const last = dataBlock(G, 2, 5, DATA_FLAG_LAST);
    expect(last.sliceBytes).toBe(5_500);
    expect(last.flags & DATA_FLAG_FINAL_SLICE).not.toBe(0);
    expect(last.payload.byteLength).toBe(500);
    expect(checkDataAgainstSession(G, last).ok).toBe(true);
    expect(checkDataAgainstSession(G, paritySymbol(G, 2, 2, maxParity(2) - 1)).ok).toBe(true);
  });

  it('with the image size unknown, accepts any slice number and a short final slice', () => {
    const g: Geometry = { ...G, imageBytes: IMAGE_BYTES_UNKNOWN };
    const full: Data = { ...dataBlock(G, 0, 0), sliceNo: 0xffff_fffe };
    expect(checkDataAgainstSession(g, full).ok).toBe(true);
    const short: Data = { ...dataBlock(G, 2, 5), sliceNo: 123_456 };
    expect(checkDataAgainstSession(g, short).ok).toBe(true);
    expect(checkDataAgainstSession(g, { ...paritySymbol(G, 2, 1, 0), sliceNo: 7 }).ok).toBe(true);
  });
});

describe('checkDataAgainstSession rejects', () => {
  it('a slice past the image', () => {
    expectRejected(checkDataAgainstSession(G, { ...dataBlock(G, 1, 0), sliceNo: 3 }), 'ERR_BAD_FIELD', /sliceNo/);
    expectRejected(checkDataAgainstSession(G, { ...dataBlock(G, 1, 0), sliceNo: 0xffff_ffff }), 'ERR_BAD_FIELD', /sliceNo/);
    expectRejected(checkDataAgainstSession({ ...G, imageBytes: 0 }, dataBlock(G, 0, 0)), 'ERR_BAD_FIELD', /sliceNo/);
  });

  it('a slice larger than a full slice', () => {
    expectRejected(checkDataAgainstSession(G, { ...dataBlock(G, 0, 0), sliceBytes: 10_001 }), 'ERR_BAD_FIELD', /sliceBytes/);
    const unknown: Geometry = { ...G, imageBytes: IMAGE_BYTES_UNKNOWN };
    expectRejected(checkDataAgainstSession(unknown, { ...dataBlock(G, 2, 0), sliceBytes: 0xffff_ffff }), 'ERR_BAD_FIELD', /sliceBytes/);
  });

  it('a short slice that is not flagged final', () => {
    const short = dataBlock(G, 2, 0);
    const notFinal: Data = { ...short, flags: short.flags & ~DATA_FLAG_FINAL_SLICE };
    expectRejected(checkDataAgainstSession(G, notFinal), 'ERR_BAD_FIELD', /short slice not final/);
    expectRejected(checkDataAgainstSession({ ...G, imageBytes: IMAGE_BYTES_UNKNOWN }, notFinal), 'ERR_BAD_FIELD', /short slice not final/);
    // A short slice in the middle of the image, even flagged final.
    expectRejected(checkDataAgainstSession(G, { ...dataBlock(G, 1, 0), sliceBytes: 9_000, flags: DATA_FLAG_FINAL_SLICE }), 'ERR_BAD_FIELD', /sliceBytes/);
  });

  it('a final slice whose size disagrees with the image', () => {
    expectRejected(checkDataAgainstSession(G, { ...dataBlock(G, 2, 0), sliceBytes: 6_000 }), 'ERR_BAD_FIELD', /sliceBytes/);
    expectRejected(checkDataAgainstSession(G, { ...dataBlock(G, 2, 0), sliceBytes: 10_000 }), 'ERR_BAD_FIELD', /sliceBytes/);
  });

  it('a wrong final flag', () => {
    // Slice 1 of 3 is full but not the last.
    const d = dataBlock(G, 1, 0);
    expectRejected(checkDataAgainstSession(G, { ...d, flags: DATA_FLAG_FINAL_SLICE }), 'ERR_BAD_FIELD', /final flag/);
    // An exact-multiple image: its last slice is full, so only the flag says it is last.
    const g: Geometry = { ...G, imageBytes: 30_000 };
    const last = dataBlock(g, 2, 0);
    expect(last.flags & DATA_FLAG_FINAL_SLICE).not.toBe(0);
    expect(checkDataAgainstSession(g, last).ok).toBe(true);
    expectRejected(checkDataAgainstSession(g, { ...last, flags: 0 }), 'ERR_BAD_FIELD', /final flag/);
  });

  it('a data block past the slice', () => {
    expectRejected(checkDataAgainstSession(G, { ...dataBlock(G, 0, 9), blockNo: 10 }), 'ERR_BAD_FIELD', /blockNo/);
    expectRejected(checkDataAgainstSession(G, { ...dataBlock(G, 2, 5), blockNo: 6 }), 'ERR_BAD_FIELD', /blockNo/);
    expectRejected(checkDataAgainstSession(G, { ...dataBlock(G, 0, 9), blockNo: 0xffff }), 'ERR_BAD_FIELD', /blockNo/);
  });

  it('a data payload of the wrong length', () => {
    const full = dataBlock(G, 0, 3);
    for (const n of [0, 999, 1001]) {
      expectRejected(checkDataAgainstSession(G, { ...full, payload: new Uint8Array(n) }), 'ERR_BAD_LENGTH', /payload/);
    }
    const lastShort = dataBlock(G, 2, 5);
    for (const n of [499, 501, 1000]) {
      expectRejected(checkDataAgainstSession(G, { ...lastShort, payload: new Uint8Array(n) }), 'ERR_BAD_LENGTH', /payload/);
    }
  });

  it('a parity payload that is not blockBytes long, even in the short last slice', () => {
    for (const n of [1, 500, 999, 1001]) {
      expectRejected(checkDataAgainstSession(G, { ...paritySymbol(G, 2, 0, 0), payload: new Uint8Array(n) }), 'ERR_BAD_LENGTH', /parity payload/);
    }
  });

  it('a parity index >= 256 - k', () => {
    // Full slice: stripe 0 has k = 4, stripes 1 and 2 have k = 3.
    expect(checkDataAgainstSession(G, paritySymbol(G, 0, 0, 251)).ok).toBe(true);
    expectRejected(checkDataAgainstSession(G, paritySymbol(G, 0, 0, 252)), 'ERR_BAD_FIELD', /parity index/);
    expect(checkDataAgainstSession(G, paritySymbol(G, 0, 1, 252)).ok).toBe(true);
    expectRejected(checkDataAgainstSession(G, paritySymbol(G, 0, 1, 253)), 'ERR_BAD_FIELD', /parity index/);
    expectRejected(checkDataAgainstSession(G, paritySymbol(G, 0, 1, 0xffff)), 'ERR_BAD_FIELD', /parity index/);
    // Short last slice: k = 2 in every stripe.
    expect(checkDataAgainstSession(G, paritySymbol(G, 2, 1, 253)).ok).toBe(true);
    expectRejected(checkDataAgainstSession(G, paritySymbol(G, 2, 1, 254)), 'ERR_BAD_FIELD', /parity index/);
  });

  it('a stripe >= stripes', () => {
    expectRejected(checkDataAgainstSession(G, paritySymbol(G, 0, 3, 0)), 'ERR_BAD_FIELD', /stripe/);
    expectRejected(checkDataAgainstSession(G, paritySymbol(G, 0, 255, 0)), 'ERR_BAD_FIELD', /stripe/);
  });

  it('parity for a stripe with no data blocks in a short slice', () => {
    // 30 001 bytes: slice 3 holds 1 byte, one block, so stripes 1 and 2 are empty.
    const g: Geometry = { ...G, imageBytes: 30_001 };
    expect(checkDataAgainstSession(g, paritySymbol(g, 3, 0, 0)).ok).toBe(true);
    expectRejected(checkDataAgainstSession(g, paritySymbol(g, 3, 1, 0)), 'ERR_BAD_FIELD', /empty stripe/);
    expectRejected(checkDataAgainstSession(g, paritySymbol(g, 3, 2, 0)), 'ERR_BAD_FIELD', /empty stripe/);
  });
});
