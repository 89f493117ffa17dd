// Resource bounds of the receiver core under floods. What it holds is set
// by the first HELLO it takes: at most retainSlices slices (keys in [delivered, delivered +
// retainSlices)), each a slice buffer plus at most k parity symbols per stripe (one more
// slice's worth), and the delivered slices the sink has not taken yet (maxQueuedSlices, in
// the driver's queue). So, in bytes:
//   (2 x retainSlices + maxQueuedSlices) x sliceBlocks x blockBytes
// With the CLIs' defaults (retainSlices 90 of 128 x 1448-byte blocks, maxQueuedSlices 16)
// that is about 36 MB. A HELLO may ask for 4096 slices of 4096 x 65000 bytes; one asking to
// hold more than maxRetainBytes (default DEFAULT_MAX_RETAIN_BYTES, 1 GiB) of retained slices
// is ignored (ERR_SESSION_TOO_LARGE) and the receiver goes on listening.

import { describe, expect, it } from 'vitest';
import { DATA_FLAG_FINAL_SLICE, DATA_FLAG_LAST, DATA_FLAG_PARITY, DATA_FLAG_REPAIR } from '../../../protocol/messages/data.js';
import { DEFAULT_MAX_RETAIN_BYTES, type ReceiverConfig, ReceiverCore } from '../../../receiver/core.js';
import { pattern } from '../../support/bytes.js';
import { drainEvents, drainReceiver, receiverConfig } from '../../support/cores.js';
import { acceptBytes, dataBytes, endBytes, helloBytes, nakBytes, reqackBytes, SENDER, SESSION, STRANGER, startBytes } from '../../support/datagrams.js';

const ME = 0x101;
type From = { readonly address: string; readonly port: number };

function feed(core: ReceiverCore, bytes: Uint8Array, now: number, from: From = SENDER): void {
  core.handle({ kind: 'datagram', from, bytes }, now);
}

/** A session of 8 slices of 4 x 100 bytes, retainSlices 4, in state receiving. */
function receiving(over: Partial<ReceiverConfig> = {}): ReceiverCore {
  const core = new ReceiverCore(receiverConfig(over), 0);
  feed(core, helloBytes({ imageBytes: 3200, retainSlices: 4 }), 1);
  feed(core, acceptBytes(ME), 2);
  feed(core, startBytes(64), 3);
  drainReceiver(core);
  drainEvents(core);
  expect(core.currentState).toBe('receiving');
  return core;
}

describe('what a HELLO may ask the receiver to hold', () => {
  it('a HELLO asking to retain more than the bound is ignored and counted; the next sane one is taken', () => {
    const core = new ReceiverCore(receiverConfig(), 0);
    // 4096 slices of 4096 x 65000 bytes: 1 TiB.
    feed(core, helloBytes({ sessionId: 0x666, blockBytes: 65000, sliceBlocks: 4096, stripes: 32, retainSlices: 4096 }), 1, STRANGER);
    expect(core.currentState).toBe('listening');
    expect(core.stats.drops).toEqual({ ERR_SESSION_TOO_LARGE: 1 });
    expect(drainReceiver(core)).toEqual([]);
    feed(core, helloBytes(), 2);
    expect(core.currentState).toBe('joining');
    expect(drainEvents(core)[0]).toMatchObject({ kind: 'session', sessionId: SESSION });
  });

  it('the bound is on retainSlices x slice bytes: exactly at it is taken, one block more is not', () => {
    const limit = 4 * 4 * 100;
    const at = new ReceiverCore(receiverConfig({ maxRetainBytes: limit }), 0);
    feed(at, helloBytes({ retainSlices: 4 }), 1);
    expect(at.currentState).toBe('joining');
    const over = new ReceiverCore(receiverConfig({ maxRetainBytes: limit - 1 }), 0);
    feed(over, helloBytes({ retainSlices: 4 }), 1);
    expect(over.currentState).toBe('listening');
    expect(over.stats.drops).toEqual({ ERR_SESSION_TOO_LARGE: 1 });
  });

  it('the default bound (1 GiB) takes the CLI’s default sessions (16 MiB retained)', () => {
    expect(DEFAULT_MAX_RETAIN_BYTES).toBe(1 << 30);
    const cli = new ReceiverCore(receiverConfig(), 0);
    // MTU 9000: 8972-byte blocks, 128 a slice, retainSlices 14 (16 MiB).
    feed(cli, helloBytes({ blockBytes: 8972, sliceBlocks: 128, retainSlices: 14, imageBytes: 1 << 30 }), 1);
    expect(cli.currentState).toBe('joining');
  });
});

describe('floods once in a session', () => {
  it('DATA for every slice number: never more than retainSlices slices held, the rest counted', () => {
    const core = receiving();
    const payload = pattern(100);
    for (let i = 0; i < 50_000; i++) {
      const sliceNo = (i * 5 + (i >> 3)) % 8;
      feed(core, dataBytes({ seq: i + 1, sliceNo, sliceBytes: 400, flags: sliceNo === 7 ? DATA_FLAG_FINAL_SLICE : 0, stripe: 0, blockNo: 1, payload }), 10);
      // and slice numbers far past the image, from the sender's own address
      feed(core, dataBytes({ seq: i + 1, sliceNo: 8 + i, sliceBytes: 400, flags: 0, stripe: 0, blockNo: 1, payload }), 10);
      drainReceiver(core);
    }
    expect(core.stats.maxHeldSlices).toBeLessThanOrEqual(4);
    expect(core.stats.drops.ERR_BAD_FIELD).toBe(50_000); // past the image
    // In the image: slices 0..3 taken (dataPackets counts duplicates too), 4..7 ahead of the window.
    expect((core.stats.drops.ERR_AHEAD ?? 0) + core.stats.dataPackets).toBe(50_000);
    expect(core.stats.drops.ERR_AHEAD).toBeGreaterThan(0);
  });

  it('REQACK and END that point past everything: held slices stay within retainSlices', () => {
    const core = receiving();
    for (let i = 0; i < 1000; i++) {
      feed(core, reqackBytes({ reqackId: i, needSlices: 0xffff_ffff, needSeq: 0xffff_ffff }), 10 + i);
      drainReceiver(core);
    }
    expect(core.stats.maxHeldSlices).toBeLessThanOrEqual(4);
    feed(core, endBytes(3200, 8, pattern(32)), 2000);
    drainReceiver(core);
    expect(core.stats.maxHeldSlices).toBeLessThanOrEqual(4);
  });

  it('parity for one stripe, every index, many times: at most k kept, the rest duplicates', () => {
    const core = receiving();
    const payload = pattern(100);
    for (let i = 0; i < 10_000; i++) {
      const flags = DATA_FLAG_PARITY | DATA_FLAG_REPAIR | (i % 2 === 0 ? DATA_FLAG_LAST : 0);
      feed(core, dataBytes({ seq: i + 1, sliceNo: 1, sliceBytes: 400, flags, stripe: 0, blockNo: i % 252, payload }), 10);
      drainReceiver(core);
    }
    // k = 4: four parity symbols complete the slice (as garbage: the digest catches that), the rest are duplicates.
    expect(core.stats.parityPackets).toBe(4);
    expect(core.stats.duplicates).toBe(10_000 - 4);
  });

  it('NAKs of others (any address) only reschedule ours: at most a couple of datagrams out per datagram in', () => {
    const core = receiving();
    let out = 0;
    for (let i = 0; i < 10_000; i++) {
      feed(core, nakBytes({ receiverId: 0x9000 + i, sliceNo: i % 8, need: [255], heard: [255] }), 10 + i / 10, STRANGER);
      core.handleTimeout(10 + i / 10);
      out += drainReceiver(core).length;
    }
    expect(out).toBeLessThanOrEqual(2 * 10_000);
    expect(core.stats.maxHeldSlices).toBeLessThanOrEqual(4);
  });
});
