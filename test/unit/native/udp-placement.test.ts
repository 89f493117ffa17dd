// DATA placement in the native UDP addon against its TS reference (common/udp/placement.ts):
//
// - differential: seeded DATA datagrams, valid and mutated field by field (magic, version,
//   session, source, flags, stripe, sizes, slice and block numbers, lengths), against tables
//   with slices open in every state; the addon and placeDatagram must give the same result,
//   the same record and the same pool bytes, datagram after datagram;
// - fuzz: random bytes as datagrams, and random words as the table (entries pointing
//   anywhere, sizes of any value): never a throw or a crash, never a byte written outside the
//   pool, never one outside the block's place in an open slice.
// The same on a real socket, batch by batch: test/integration/native/udp-placement.test.ts.
//
// If the addon is not built the suite says so and skips (RACKCAST_REQUIRE_NATIVE=1: fails).

import { describe, expect, it } from 'vitest';
import {
  DATA_HEAD_WORD,
  FINAL_MASK_CLEAR,
  FINAL_MASK_SET,
  PLACED_MARK,
  PlacementTable,
  PlaceResult,
  placeDatagram,
  RECORD_WORDS,
} from '../../../common/udp/placement.js';
import { loadUdpAddon, type NativeUdpAddon, PLACE_ENTRY_COUNT, PLACE_ENTRY_WORDS, PLACE_HEADER_WORDS } from '../../../native/udp-addon.js';
import { DATA_FLAG_FINAL_SLICE, DATA_FLAG_LAST, DATA_FLAG_PARITY, DATA_FLAG_REPAIR, DATA_HEADER_SIZE, encodeData } from '../../../protocol/messages/data.js';
import { mulberry32 } from '../../support/prng.js';

const load = loadUdpAddon();
if (!load.ok) console.warn(`udp-placement: SKIPPED, native UDP addon not available: ${load.reason}`);
const required = process.env.RACKCAST_REQUIRE_NATIVE === '1';
const run = load.ok || required ? describe : describe.skip;
const addon = (): NativeUdpAddon => {
  if (!load.ok) throw new Error(load.reason);
  return load.addon;
};

const SENDER = '198.18.0.1';
const SENDER_IP = 0xc6120001;
const SESSION = 0x5eed1234;

interface Shape {
  blockBytes: number;
  sliceBlocks: number;
  retain: number;
}

/** A table with a session begun and slices opened in every state the core leaves them in. */
function makeTable(rnd: () => number, shape: Shape): { table: PlacementTable; open: { sliceNo: number; sliceBytes: number }[] } {
  const table = new PlacementTable();
  const full = shape.blockBytes * shape.sliceBlocks;
  table.begin({ sessionId: SESSION, senderAddress: SENDER, blockBytes: shape.blockBytes, fullSliceBytes: full, retainSlices: shape.retain, queuedSlices: 2 });
  const base = Math.floor(rnd() * 1000);
  table.setBase(base);
  const open: { sliceNo: number; sliceBytes: number }[] = [];
  for (let n = base; n < base + shape.retain; n++) {
    const pick = rnd();
    if (pick < 0.2) continue; // not opened yet
    const short = rnd() < 0.15;
    const sliceBytes = short ? 1 + Math.floor(rnd() * full) : full;
    const mask = short ? FINAL_MASK_SET : [FINAL_MASK_CLEAR, FINAL_MASK_SET, FINAL_MASK_CLEAR | FINAL_MASK_SET][Math.floor(rnd() * 3)]!;
    const { bytes, have } = table.open(n, sliceBytes, Math.ceil(sliceBytes / shape.blockBytes), mask);
    // The core has some blocks already.
    for (let b = 0; b < have.byteLength; b++) if (rnd() < 0.1) have[b] = 1;
    if (pick < 0.3)
      table.close(n, bytes, rnd() < 0.5); // complete, or dropped
    else open.push({ sliceNo: n, sliceBytes });
  }
  return { table, open };
}

/** A DATA datagram for one of the open slices (or near them), then 0-3 mutations. */
function datagram(rnd: () => number, shape: Shape, open: readonly { sliceNo: number; sliceBytes: number }[]): { bytes: Uint8Array; srcIp: number } {
  const pick = open.length > 0 ? open[Math.floor(rnd() * open.length)] : { sliceNo: 7, sliceBytes: shape.blockBytes * shape.sliceBlocks };
  const nBlocks = Math.ceil(pick!.sliceBytes / shape.blockBytes);
  const blockNo = Math.floor(rnd() * nBlocks);
  const len = Math.min(shape.blockBytes, pick!.sliceBytes - blockNo * shape.blockBytes);
  let flags = 0;
  if (rnd() < 0.3) flags |= DATA_FLAG_FINAL_SLICE;
  if (rnd() < 0.2) flags |= DATA_FLAG_LAST;
  if (rnd() < 0.2) flags |= DATA_FLAG_REPAIR;
  const payload = new Uint8Array(len);
  for (let i = 0; i < len; i++) payload[i] = (rnd() * 256) | 0;
  const msg = { sessionId: SESSION, seq: (rnd() * 2 ** 32) >>> 0, sliceNo: pick!.sliceNo, sliceBytes: pick!.sliceBytes, flags, stripe: 0, blockNo, payload };
  let bytes = new Uint8Array(DATA_HEADER_SIZE + len);
  encodeData(msg, bytes);
  let srcIp = SENDER_IP;
  const mutations = Math.floor(rnd() * 4);
  for (let m = 0; m < mutations; m++) {
    const kind = Math.floor(rnd() * 12);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (kind === 0 && bytes.byteLength > 0)
      bytes = bytes.subarray(0, Math.floor(rnd() * bytes.byteLength)); // truncated
    else if (kind === 1) {
      const longer = new Uint8Array(bytes.byteLength + 1 + Math.floor(rnd() * 8));
      longer.set(bytes);
      bytes = longer;
    } else if (kind === 2 && bytes.byteLength >= 4)
      bytes[Math.floor(rnd() * 4)]! ^= 1 << Math.floor(rnd() * 8); // magic, version, type
    else if (kind === 3 && bytes.byteLength >= 8) v.setUint32(4, SESSION ^ 1, false);
    else if (kind === 4) srcIp = (SENDER_IP + 1) >>> 0;
    else if (kind === 5 && bytes.byteLength > 20) bytes[20] = [DATA_FLAG_PARITY, 0x10, 0x80, 0xff, flags ^ DATA_FLAG_FINAL_SLICE][Math.floor(rnd() * 5)]!;
    else if (kind === 6 && bytes.byteLength > 21) bytes[21] = 1 + Math.floor(rnd() * 255);
    else if (kind === 7 && bytes.byteLength >= 20)
      v.setUint32(16, [0, 1, pick!.sliceBytes - 1, pick!.sliceBytes + 1, 0x8000_0000, 0xffff_ffff][Math.floor(rnd() * 6)]! >>> 0, false);
    else if (kind === 8 && bytes.byteLength >= 16) v.setUint32(12, (pick!.sliceNo + [1, -1, shape.retain, 2 ** 31][Math.floor(rnd() * 4)]!) >>> 0, false);
    else if (kind === 9 && bytes.byteLength >= 24) v.setUint16(22, [nBlocks, nBlocks - 1, 0xffff, blockNo + 1][Math.floor(rnd() * 4)]! & 0xffff, false);
    else if (kind === 10 && bytes.byteLength >= 24) bytes = bytes.subarray(0, DATA_HEADER_SIZE); // no payload
  }
  return { bytes, srcIp };
}

run('native DATA placement', () => {
  it('the addon and the TS reference agree, datagram by datagram (results, records, pool bytes)', () => {
    const a = addon();
    let placed = 0;
    let raw = 0;
    let stop = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const rnd = mulberry32(seed);
      const shape: Shape = {
        blockBytes: [1, 7, 256, 1448, 8948][seed % 5]!,
        sliceBlocks: 1 + Math.floor(rnd() * 40),
        retain: 1 + Math.floor(rnd() * 12),
      };
      const { table, open } = makeTable(rnd, shape);
      const poolTs = table.pool.slice();
      const poolNative = table.pool.slice();
      const recTs = new Uint32Array(RECORD_WORDS);
      const recNative = new Uint32Array(RECORD_WORDS);
      for (let i = 0; i < 400; i++) {
        const { bytes, srcIp } = datagram(rnd, shape, open);
        recTs.fill(0xabcdef);
        recNative.fill(0xabcdef);
        const rt = placeDatagram(table.words, poolTs, bytes, srcIp, recTs, 0);
        const rn = a.placeDatagram(table.words, poolNative, bytes, srcIp, recNative);
        expect(rn, `seed ${seed} datagram ${i}`).toBe(rt);
        if (rt === PlaceResult.Placed) {
          placed++;
          expect(recNative).toEqual(recTs);
          expect((recTs[1]! & PLACED_MARK) >>> 0).toBe(PLACED_MARK);
        } else if (rt === PlaceResult.RawStop) stop++;
        else raw++;
        if (i % 50 === 49) expect(Buffer.compare(poolNative, poolTs), `seed ${seed} datagram ${i}`).toBe(0);
      }
      expect(Buffer.compare(poolNative, poolTs)).toBe(0);
    }
    // Every outcome was exercised.
    expect(placed).toBeGreaterThan(1000);
    expect(raw).toBeGreaterThan(1000);
    expect(stop).toBeGreaterThan(10);
  });

  it('random bytes and random tables: no crash, nothing written outside an open slice block', () => {
    const a = addon();
    const rnd = mulberry32(0xf00d);
    const rec = new Uint32Array(RECORD_WORDS);
    const GUARD = 64;
    for (let round = 0; round < 300; round++) {
      const entries = 1 << Math.floor(rnd() * 4);
      const words = new Uint32Array(PLACE_HEADER_WORDS + entries * PLACE_ENTRY_WORDS + Math.floor(rnd() * 3) - 1);
      for (let i = 0; i < words.length; i++) {
        // Mostly plausible values, sometimes anything.
        words[i] = rnd() < 0.3 ? (rnd() * 2 ** 32) >>> 0 : Math.floor(rnd() * 3000);
      }
      words[0] = rnd() < 0.9 ? 1 : words[0]!;
      words[1] = SESSION;
      words[2] = SENDER_IP;
      words[7] = DATA_HEAD_WORD;
      if (words.length > PLACE_ENTRY_COUNT && rnd() < 0.8) words[PLACE_ENTRY_COUNT] = entries;
      const backing = new Uint8Array(GUARD + 4096 + GUARD).fill(0x5a);
      const pool = backing.subarray(GUARD, GUARD + Math.floor(rnd() * 4096));
      const before = backing.slice();
      for (let i = 0; i < 30; i++) {
        const len = Math.floor(rnd() * 300);
        const bytes = new Uint8Array(len);
        for (let j = 0; j < len; j++) bytes[j] = (rnd() * 256) | 0;
        if (len >= 8 && rnd() < 0.7) {
          // Enough of a DATA header to get past the first checks.
          new DataView(bytes.buffer).setUint32(0, DATA_HEAD_WORD, false);
          new DataView(bytes.buffer).setUint32(4, SESSION, false);
          if (len > 21) bytes[21] = 0;
          if (len > 20) bytes[20]! &= 0x0e;
        }
        const r = a.placeDatagram(words, pool, bytes, SENDER_IP, rec);
        const t = placeDatagram(words, pool.slice(), bytes, SENDER_IP, new Uint32Array(RECORD_WORDS), 0);
        expect(r).toBe(t);
      }
      // The guards around the pool are untouched, whatever the table said.
      expect(Buffer.compare(backing.subarray(0, GUARD), before.subarray(0, GUARD))).toBe(0);
      expect(Buffer.compare(backing.subarray(GUARD + pool.byteLength), before.subarray(GUARD + pool.byteLength))).toBe(0);
    }
  });

  it('writes only the block it places, inside its slice', () => {
    const a = addon();
    const table = new PlacementTable();
    table.begin({ sessionId: SESSION, senderAddress: SENDER, blockBytes: 100, fullSliceBytes: 1000, retainSlices: 4, queuedSlices: 1 });
    const s = table.open(2, 950, 10, FINAL_MASK_SET).bytes;
    const keep = table.pool.slice();
    table.pool.fill(0xee, s.byteOffset - table.pool.byteOffset, s.byteOffset - table.pool.byteOffset + 950);
    const payload = new Uint8Array(50).fill(7);
    const bytes = new Uint8Array(DATA_HEADER_SIZE + 50);
    encodeData({ sessionId: SESSION, seq: 9, sliceNo: 2, sliceBytes: 950, flags: DATA_FLAG_FINAL_SLICE, stripe: 0, blockNo: 9, payload }, bytes);
    const rec = new Uint32Array(RECORD_WORDS);
    expect(a.placeDatagram(table.words, table.pool, bytes, SENDER_IP, rec)).toBe(PlaceResult.Placed);
    expect([...rec]).toEqual([9, (PLACED_MARK | 950) >>> 0, 2, 9 | (DATA_FLAG_FINAL_SLICE << 16)]);
    const start = s.byteOffset - table.pool.byteOffset;
    const at = start + 900;
    const placedAt = start + 1000 + 10 + 9; // the slot's "placed" byte of block 9
    for (let i = 0; i < table.pool.byteLength; i++) {
      const want = i >= at && i < at + 50 ? 7 : i >= start && i < start + 950 ? 0xee : i === placedAt ? 1 : keep[i];
      if (table.pool[i] !== want) expect(`${i}: ${table.pool[i]}`).toBe(`${i}: ${want}`);
    }
    // A second copy of the block is the core's to judge (a duplicate, or other bytes: the first stays).
    expect(a.placeDatagram(table.words, table.pool, bytes, SENDER_IP, rec)).toBe(PlaceResult.Raw);
    // So is a FINAL_SLICE-less copy of a slice opened for FINAL_SLICE only.
    bytes[20] = 0;
    bytes[23] = 8;
    expect(a.placeDatagram(table.words, table.pool, bytes, SENDER_IP, rec)).toBe(PlaceResult.Raw);
  });
});
