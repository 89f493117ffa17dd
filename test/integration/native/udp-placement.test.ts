// DATA placement on a real NativeUdpSocket (loopback only): a stream of GSO batches to a
// placing socket ends in the same records and datagrams, in the same order, with the same
// pool bytes, as the TS reference placement (common/udp/placement.ts) of the same stream, one
// datagram at a time, when the handler opens each new slice as the receiver core does; so a
// receive batch must stop after the datagram whose slice the core opens. The addon's
// PlaceDatagram alone against the reference: test/unit/native/udp-placement.test.ts.
//
// If the addon is not built the suite says so and skips (RACKCAST_REQUIRE_NATIVE=1: fails).

import { afterEach, describe, expect, it } from 'vitest';
import { loadNativeUdp, NativeUdpSocket } from '../../../common/udp/native.js';
import { FINAL_MASK_CLEAR, FINAL_MASK_SET, PlacementTable, PlaceResult, placeDatagram, RECORD_WORDS } from '../../../common/udp/placement.js';
import { DATA_FLAG_FINAL_SLICE, DATA_FLAG_LAST, DATA_FLAG_PARITY, DATA_HEADER_SIZE, encodeData } from '../../../protocol/messages/data.js';
import { mulberry32 } from '../../support/prng.js';

const status = loadNativeUdp();
if (!status.ok) console.warn(`udp-placement (socket): SKIPPED, native UDP addon not available: ${status.reason}`);
const run = status.ok || process.env.RACKCAST_REQUIRE_NATIVE === '1' ? describe : describe.skip;

const SENDER = '127.0.0.1';
const SENDER_IP = 0x7f000001;
const SESSION = 0x5eed1234;

const open: NativeUdpSocket[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

type Seen = { kind: 'rec'; words: number[] } | { kind: 'raw'; bytes: string };

run('a placing NativeUdpSocket', () => {
  it('hands on the same records and datagrams, in order, as the TS placement of the same stream', async () => {
    const shape = { blockBytes: 1000, sliceBlocks: 8 };
    const full = shape.blockBytes * shape.sliceBlocks;
    const rnd = mulberry32(77);
    // Slices 0..5 in order, the blocks of each in one GSO batch, and now and then a
    // duplicate of an earlier block, a parity symbol, a datagram of another session.
    const stream: Uint8Array[] = [];
    for (let n = 0; n < 6; n++) {
      for (let b = 0; b < shape.sliceBlocks; b++) {
        const payload = new Uint8Array(shape.blockBytes).map(() => (rnd() * 256) | 0);
        const flags = (n === 5 ? DATA_FLAG_FINAL_SLICE : 0) | (b === shape.sliceBlocks - 1 ? DATA_FLAG_LAST : 0);
        const d = new Uint8Array(DATA_HEADER_SIZE + shape.blockBytes);
        encodeData({ sessionId: SESSION, seq: stream.length + 1, sliceNo: n, sliceBytes: full, flags, stripe: 0, blockNo: b, payload }, d);
        stream.push(d);
        if (rnd() < 0.1) stream.push(stream[Math.floor(rnd() * stream.length)]!);
        if (rnd() < 0.05) {
          const p = d.slice();
          p[20]! |= DATA_FLAG_PARITY!;
          stream.push(p);
        }
      }
    }
    /** What the receiver core does with a datagram it gets raw: open the slice of a DATA it does not hold. */
    const core = (table: PlacementTable, opened: Set<number>, bytes: Uint8Array): void => {
      if (bytes.byteLength <= DATA_HEADER_SIZE) return;
      const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const sliceNo = v.getUint32(12, false);
      if (!opened.has(sliceNo) && v.getUint32(4, false) === SESSION) {
        opened.add(sliceNo);
        table.open(sliceNo, full, shape.sliceBlocks, sliceNo === 5 ? FINAL_MASK_SET : FINAL_MASK_CLEAR);
      }
    };
    const newTable = (): PlacementTable => {
      const t = new PlacementTable();
      t.begin({ sessionId: SESSION, senderAddress: SENDER, blockBytes: shape.blockBytes, fullSliceBytes: full, retainSlices: 8, queuedSlices: 1 });
      t.setBase(0);
      return t;
    };

    // The TS reference, one datagram at a time.
    const refTable = newTable();
    const refOpened = new Set<number>();
    const want: Seen[] = [];
    const rec = new Uint32Array(RECORD_WORDS);
    for (const d of stream) {
      if (placeDatagram(refTable.words, refTable.pool, d, SENDER_IP, rec, 0) === PlaceResult.Placed) want.push({ kind: 'rec', words: [...rec] });
      else {
        want.push({ kind: 'raw', bytes: Buffer.from(d).toString('hex') });
        core(refTable, refOpened, d);
      }
    }

    // The socket, in batches.
    const table = newTable();
    const opened = new Set<number>();
    const got: Seen[] = [];
    const rx = new NativeUdpSocket({});
    open.push(rx);
    await rx.bind(0, SENDER);
    const port = rx.address().port;
    rx.onMessage((bytes) => {
      got.push({ kind: 'raw', bytes: Buffer.from(bytes).toString('hex') });
      core(table, opened, bytes);
    });
    rx.setPlacement(table, (records, first, count) => {
      for (let i = first; i < first + count; i++) got.push({ kind: 'rec', words: [...records.subarray(i * RECORD_WORDS, (i + 1) * RECORD_WORDS)] });
    });
    const tx = new NativeUdpSocket({});
    open.push(tx);
    for (let i = 0; i < stream.length; i++) {
      tx.send([stream[i]!], port, SENDER);
      if (i % 16 === 15) tx.flush();
    }
    tx.flush();
    const deadline = Date.now() + 5000;
    while (got.length < stream.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual(want);
    expect(Buffer.compare(table.pool, refTable.pool)).toBe(0);
    expect(rx.cpu.datagramsPlaced).toBe(want.filter((w) => w.kind === 'rec').length);
  });
});
