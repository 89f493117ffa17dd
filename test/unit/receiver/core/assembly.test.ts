// Slice assembly (receiver/core/assembly.ts) driven directly, without the core's checks in
// front of it: a wire number it indexes with is refused here too.

import { describe, expect, it } from 'vitest';
import { DATA_FLAG_PARITY } from '../../../../protocol/messages/data.js';
import { decodeHello } from '../../../../protocol/messages/hello.js';
import { Assembly, type DataIn } from '../../../../receiver/core/assembly.js';
import type { ReceiverEvent } from '../../../../receiver/core/events.js';
import { Session } from '../../../../receiver/core/session.js';
import { newReceiverStats } from '../../../../receiver/core/stats.js';
import { receiverConfig } from '../../../support/cores.js';
import { helloBytes, SENDER } from '../../../support/datagrams.js';

/** 100-byte blocks, 4 a slice, 2 stripes (blocks 0, 2 and 1, 3), 8 slices. */
function assembly(): { asm: Assembly; stats: ReturnType<typeof newReceiverStats> } {
  const hello = decodeHello(helloBytes({ stripes: 2, imageBytes: 3200 }));
  if (!hello.ok) throw new Error(hello.detail);
  const session = Session.open(SENDER, hello.value, 1 << 30);
  if (typeof session === 'string') throw new Error(session);
  const stats = newReceiverStats();
  const events: ReceiverEvent[] = [];
  const asm = new Assembly(session, receiverConfig(), { unwritten: 0, bytesWritten: 0 }, stats, events);
  return { asm, stats };
}

function parity(stripe: number): DataIn {
  const payload = new Uint8Array(100).fill(7);
  return { sessionId: 0, seq: 1, sliceNo: 0, sliceBytes: 400, flags: DATA_FLAG_PARITY, stripe, blockNo: 0, payload, payloadBytes: 100 };
}

describe('Assembly, a parity symbol naming a stripe the session does not have', () => {
  it.each([2, 255])('stripe %i: counted as ERR_BAD_FIELD, nothing held, no throw', (stripe) => {
    const { asm, stats } = assembly();
    expect(asm.take(parity(stripe))).toBeUndefined();
    expect(stats.drops).toEqual({ ERR_BAD_FIELD: 1 });
    expect(stats.parityPackets).toBe(0);
    expect(asm.get(0)).toBeUndefined();
    // The session's last stripe is still taken.
    expect(asm.take(parity(1))?.sliceNo).toBe(0);
    expect(stats.parityPackets).toBe(1);
    expect(stats.drops).toEqual({ ERR_BAD_FIELD: 1 });
  });
});

function block(blockNo: number, flags = 0): DataIn {
  const payload = new Uint8Array(100).fill(blockNo);
  return { sessionId: 0, seq: 1, sliceNo: 0, sliceBytes: 400, flags, stripe: 0, blockNo, payload, payloadBytes: 100 };
}

describe('Assembly, a block number or parity index the slice cannot have', () => {
  it.each([4, 65535])('data block %i of a 4-block slice: counted as ERR_BAD_FIELD, no throw', (blockNo) => {
    const { asm, stats } = assembly();
    expect(asm.take(block(blockNo))).toBeUndefined();
    expect(stats.drops).toEqual({ ERR_BAD_FIELD: 1 });
    expect(stats.dataPackets).toBe(0);
    expect(asm.get(0)).toBeUndefined();
    expect(asm.take(block(3))?.sliceNo).toBe(0);
    expect(stats.dataPackets).toBe(1);
  });

  it.each([254, 65535])('parity index %i of a 2-block stripe (the code makes 0..253): counted as ERR_BAD_FIELD, no throw', (blockNo) => {
    const { asm, stats } = assembly();
    expect(asm.take(block(blockNo, DATA_FLAG_PARITY))).toBeUndefined();
    expect(stats.drops).toEqual({ ERR_BAD_FIELD: 1 });
    expect(stats.parityPackets).toBe(0);
    expect(asm.get(0)).toBeUndefined();
    expect(asm.take(block(253, DATA_FLAG_PARITY))?.sliceNo).toBe(0);
    expect(stats.parityPackets).toBe(1);
  });
});
