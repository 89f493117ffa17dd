// The receiver core with its slices in a PlacementTable and DATA placed before it sees them
// (common/udp/placement.ts, TS reference), against the core on heap memory taking every
// datagram itself, in lockstep on one seeded stream: a real sender's output with loss, plus
// forged copies of its DATA (other bytes, every header field bent: FINAL_SLICE flipped, sizes,
// block and slice numbers, stripe, session, the source address). A socket may place only what
// the core would have copied to the same place, so the two must send the same datagrams,
// count the same and deliver the same bytes, whatever the forgeries; and PlacementTable's own
// bookkeeping (open, close, release) is checked beside.

import { describe, expect, it } from 'vitest';
import { FINAL_MASK_CLEAR, FINAL_MASK_SET, PlacementTable, PlaceResult, placeDatagram, RECORD_WORDS } from '../../../common/udp/placement.js';
import { CauchyReedSolomon } from '../../../protocol/fec/cauchy-rs.js';
import { MessageType } from '../../../protocol/header.js';
import { DATA_FLAG_FINAL_SLICE, DATA_HEADER_SIZE } from '../../../protocol/messages/data.js';
import { IMAGE_BYTES_UNKNOWN } from '../../../protocol/messages/hello.js';
import { FINAL_CLEAR, FINAL_SET, ReceiverCore, type ReceiverEvent } from '../../../receiver/core.js';
import { SenderCore } from '../../../sender/core.js';
import { mulberry32 } from '../../support/prng.js';

const SENDER = '198.18.0.1';
const SENDER_IP = 0xc6120001;

interface Run {
  readonly transmits: string[];
  readonly delivered: string[];
  readonly stats: unknown;
  readonly state: string;
}

function lockstep(
  seed: number,
  o: { unknownSize: boolean; stripes: number; redundancy: number; loss: number; forge: number },
): { plain: Run; placed: Run; placedCount: number; table: PlacementTable } {
  const rnd = mulberry32(seed);
  const coder = new CauchyReedSolomon();
  const blockBytes = 200;
  const sliceBlocks = 8 * o.stripes;
  const imageBytes = blockBytes * sliceBlocks * 12 + (seed % 3 === 0 ? 0 : 123);
  const image = new Uint8Array(imageBytes).map(() => (rnd() * 256) | 0);
  const sender = new SenderCore(
    {
      sessionId: 0x77,
      blockBytes,
      sliceBlocks,
      stripes: o.stripes,
      redundancy: o.redundancy,
      async: false,
      streaming: false,
      dataGroup: '239.192.67.1',
      dataPort: 9000,
      imageBytes: o.unknownSize ? IMAGE_BYTES_UNKNOWN : imageBytes,
      retainSlices: 4,
      minReceivers: 1,
      minWaitMs: 0,
      maxWaitMs: 1000,
      waitForKey: false,
      maxReceivers: 16,
      retriesUntilDrop: 50,
      maxBitrateBps: undefined,
      helloIntervalMs: 20,
      reqackIntervalMs: 10,
      endIntervalMs: 20,
      nakHoldMs: 5,
      windowPacketsMax: 4096,
      maxReportingReceivers: 8,
      answerWindowMs: 4,
      heartbeatMs: 1000,
      roster: [],
      startTimeoutMs: undefined,
      carouselPasses: 1,
      catchUp: false,
      minRateBytesPerSec: undefined,
      coder,
    },
    0,
  );
  const cfg = {
    receiverId: 0x42,
    rcvBufBytes: 1 << 20,
    startTimeoutMs: undefined,
    receiveTimeoutMs: 5000,
    joinIntervalMs: 20,
    statusIntervalMs: 50,
    // No HEARTBEAT: the two cores' transmits are compared datagram for datagram, and the
    // HEARTBEAT message has nothing to do with where DATA is placed.
    heartbeatIntervalMs: 1e9,
    nakBackoffMs: 8,
    repairWaitMs: 16,
    reportIntervalMs: 20,
    reportTries: 5,
    maxQueuedSlices: 2,
    coder,
  };
  const table = new PlacementTable();
  const plain = new ReceiverCore({ ...cfg, random: mulberry32(seed + 1) }, 0);
  const placed = new ReceiverCore({ ...cfg, random: mulberry32(seed + 1), sliceMemory: table }, 0);
  const runs = [
    { core: plain, transmits: [] as string[], delivered: [] as string[], memory: undefined as PlacementTable | undefined },
    { core: placed, transmits: [] as string[], delivered: [] as string[], memory: table },
  ];
  const rec = new Uint32Array(RECORD_WORDS);
  let placedCount = 0;
  let fed = 0;
  const feed = (bytes: Uint8Array, from: string, now: number): void => {
    for (const r of runs) {
      const m = r.memory;
      if (m !== undefined && placeDatagram(m.words, m.pool, bytes, from === SENDER ? SENDER_IP : SENDER_IP + 9, rec, 0) === PlaceResult.Placed) {
        placedCount++;
        r.core.handle({ kind: 'placed', records: rec, first: 0, count: 1 }, now);
      } else {
        r.core.handle({ kind: 'datagram', from: { address: from, port: 9001 }, bytes }, now);
      }
    }
  };
  /** A forged copy of a DATA: other payload bytes, and one header field bent. */
  const forge = (d: Uint8Array): { bytes: Uint8Array; from: string } => {
    const f = d.slice();
    for (let i = DATA_HEADER_SIZE; i < f.byteLength; i++) f[i] = 0xee;
    const v = new DataView(f.buffer);
    let from = SENDER;
    switch (Math.floor(rnd() * 8)) {
      case 0:
        f[20]! ^= DATA_FLAG_FINAL_SLICE!;
        break;
      case 1:
        v.setUint32(16, v.getUint32(16, false) - 1, false);
        break;
      case 2:
        v.setUint16(22, v.getUint16(22, false) + 1, false);
        break;
      case 3:
        v.setUint32(12, v.getUint32(12, false) + 1 + Math.floor(rnd() * 3), false);
        break;
      case 4:
        f[21] = 1;
        break;
      case 5:
        v.setUint32(4, 0x78, false);
        break;
      case 6:
        from = '198.18.0.99';
        break;
      default:
        break; // only the bytes differ: a block forged before (or after) the real one
    }
    return { bytes: f, from };
  };
  for (let now = 0; now < 20_000 && placed.currentState !== 'done'; now++) {
    sender.handleTimeout(now);
    if (sender.wantsSlice()) {
      if (fed < imageBytes) {
        const n = Math.min(blockBytes * sliceBlocks, imageBytes - fed);
        sender.handle({ kind: 'slice', bytes: image.slice(fed, fed + n) }, now);
        fed += n;
      } else {
        sender.handle({ kind: 'eof', digest: new Uint8Array(32) }, now);
      }
    }
    for (let t = sender.pollTransmit(now), i = 0; t !== undefined && i < 40; t = sender.pollTransmit(now), i++) {
      const b = new Uint8Array(t.bytes);
      let off = 0;
      for (const p of t.parts) {
        b.set(p, off);
        off += p.byteLength;
      }
      const isData = b[3] === MessageType.Data;
      if (isData && rnd() < o.forge) {
        const f = forge(b);
        feed(f.bytes, f.from, now);
      }
      if (isData && rnd() < o.loss) continue;
      feed(b, SENDER, now);
    }
    for (const r of runs) {
      r.core.handleTimeout(now);
      for (let ev = r.core.pollEvent(); ev !== undefined; ev = r.core.pollEvent()) onEvent(r, ev, now);
    }
    // The receivers' feedback goes to the sender once (the two send the same, checked below).
    for (let b = plain.pollTransmit(); b !== undefined; b = plain.pollTransmit()) {
      runs[0]!.transmits.push(Buffer.from(b.bytes).toString('hex'));
      sender.handle({ kind: 'datagram', from: { address: '198.18.0.11', port: 9001 }, bytes: b.bytes }, now);
    }
    for (let b = placed.pollTransmit(); b !== undefined; b = placed.pollTransmit()) runs[1]!.transmits.push(Buffer.from(b.bytes).toString('hex'));
  }
  function onEvent(r: (typeof runs)[number], ev: ReceiverEvent, now: number): void {
    if (ev.kind === 'deliver') {
      r.delivered.push(`${ev.offset}:${Buffer.from(ev.bytes).toString('hex')}`);
      r.memory?.release(ev.bytes);
      r.core.handle({ kind: 'written', slices: 1, bytes: ev.bytes.byteLength }, now);
    } else if (ev.kind === 'complete') {
      r.core.handle({ kind: 'verified', ok: true, digest: new Uint8Array(32), reason: 0, detail: '' }, now);
    }
  }
  const out = (i: number): Run => ({
    transmits: runs[i]!.transmits,
    delivered: runs[i]!.delivered,
    stats: runs[i]!.core.stats,
    state: runs[i]!.core.currentState,
  });
  return { plain: out(0), placed: out(1), placedCount, table };
}

describe('receiver core: placed DATA against DATA it copies itself', () => {
  const cases = [
    { unknownSize: false, stripes: 1, redundancy: 0, loss: 0.05, forge: 0.1 },
    { unknownSize: true, stripes: 1, redundancy: 0, loss: 0.05, forge: 0.1 },
    { unknownSize: true, stripes: 2, redundancy: 1, loss: 0.1, forge: 0.2 },
    { unknownSize: false, stripes: 3, redundancy: 2, loss: 0.15, forge: 0.3 },
  ];
  for (const [i, c] of cases.entries()) {
    for (const seed of [1, 2, 3]) {
      it(`same datagrams, counters and bytes: ${JSON.stringify(c)} seed ${seed}`, () => {
        const r = lockstep(seed * 10 + i, c);
        expect(r.placed.state).toBe(r.plain.state);
        expect(r.placed.stats).toEqual(r.plain.stats);
        expect(r.placed.delivered).toEqual(r.plain.delivered);
        expect(r.placed.transmits).toEqual(r.plain.transmits);
        expect(r.placedCount).toBeGreaterThan(50);
        // Every slice delivered came back to the pool; what is left is held, at most the window.
        expect(r.table.stats.unpooled).toBe(0);
        expect(r.table.stats.slots - r.table.freeSlots).toBeLessThanOrEqual(4);
      });
    }
  }
});

describe('PlacementTable', () => {
  const shape = { sessionId: 1, senderAddress: '10.0.0.1', blockBytes: 10, fullSliceBytes: 100, retainSlices: 3, queuedSlices: 2 };

  it('the core and the addon agree on the FINAL_SLICE mask bits', () => {
    expect([FINAL_CLEAR, FINAL_SET]).toEqual([FINAL_MASK_CLEAR, FINAL_MASK_SET]);
  });

  it('hands out one slot per slice, reuses released ones, and refuses a double release', () => {
    const t = new PlacementTable();
    t.begin(shape);
    expect(t.stats.slots).toBe(6);
    const bufs = [0, 1, 2, 3, 4, 5].map((n) => t.open(n, 100, 10, FINAL_MASK_CLEAR).bytes);
    expect(new Set(bufs.map((b) => b.byteOffset)).size).toBe(6);
    expect(t.freeSlots).toBe(0);
    // Full: heap memory, never placed into.
    const extra = t.open(6, 100, 10, FINAL_MASK_CLEAR).bytes;
    expect(extra.buffer).not.toBe(t.pool.buffer);
    expect(t.stats.unpooled).toBe(1);
    t.release(extra); // heap memory: nothing to do
    t.close(0, bufs[0]!, true);
    expect(t.freeSlots).toBe(1);
    expect(() => t.release(bufs[0]!)).toThrow(RangeError);
    expect(t.open(7, 50, 5, FINAL_MASK_SET).bytes.byteOffset).toBe(bufs[0]!.byteOffset);
  });

  it('an entry taken by another open slice is not overwritten', () => {
    const t = new PlacementTable();
    t.begin(shape); // 4 entries
    t.open(1, 100, 10, FINAL_MASK_CLEAR);
    t.open(5, 100, 10, FINAL_MASK_CLEAR); // same entry as 1
    expect(t.stats.collisions).toBe(1);
  });

  it('places nothing without a session, or with a sender it cannot parse', () => {
    const t = new PlacementTable();
    expect(t.enabled).toBe(false);
    t.begin({ ...shape, senderAddress: 'not-an-address' });
    expect(t.enabled).toBe(false);
    expect(t.open(0, 100, 10, FINAL_MASK_CLEAR).bytes.byteLength).toBe(100);
    expect(() => t.begin(shape)).not.toThrow();
  });
});
