// What the fuzz harness (test/support/fuzz/) found in the cores, each pinned down as a
// small deterministic case next to the seed that first showed it. Each one was a core
// asking to be woken at or before `now` right after it was handled (its driver would then
// spin at 100% CPU) or a transfer that could not finish.

import { describe, expect, it } from 'vitest';
import { checkDataAgainstSession } from '../../../protocol/geometry.js';
import { MessageType } from '../../../protocol/header.js';
import { DATA_FLAG_FINAL_SLICE, DATA_FLAG_LAST, DATA_FLAG_PARITY } from '../../../protocol/messages/data.js';
import { IMAGE_BYTES_UNKNOWN } from '../../../protocol/messages/hello.js';
import { Reason } from '../../../protocol/reasons.js';
import { ReceiverCore } from '../../../receiver/core.js';
import { SenderCore } from '../../../sender/core.js';
import { pattern } from '../../support/bytes.js';
import { drainEvents, drainReceiver, drainSender, only, receiverConfig, senderConfig } from '../../support/cores.js';
import {
  acceptBytes,
  dataBytes,
  endBytes,
  helloBytes,
  joinBytes,
  leaveBytes,
  nakBytes,
  rcv,
  SENDER,
  startBytes,
  statusBytes,
} from '../../support/datagrams.js';
import { runTransferFuzz } from '../../support/fuzz/transfer.js';

describe('the last slice of an image of unknown size that is a whole number of slices (seed 166)', () => {
  it('its repairs carry FINAL_SLICE, which receivers that know the size from END require', () => {
    const core = new SenderCore(senderConfig({ imageBytes: IMAGE_BYTES_UNKNOWN, minReceivers: 1 }), 0);
    core.handle({ kind: 'datagram', from: rcv(0).from, bytes: joinBytes({ receiverId: rcv(0).id, rcvBufBytes: 1 << 20 }) }, 1);
    const image = pattern(400); // one full slice
    core.handle({ kind: 'slice', bytes: image }, 1);
    const first = only(drainSender(core, 1), MessageType.Data);
    expect(first.map((d) => d.flags & DATA_FLAG_FINAL_SLICE)).toEqual([0, 0, 0, 0]); // not known yet
    core.handle({ kind: 'eof', digest: pattern(32) }, 2);
    core.handle({ kind: 'datagram', from: rcv(0).from, bytes: nakBytes({ receiverId: rcv(0).id, sliceNo: 0, need: [1] }) }, 3);
    const [repair] = only(drainSender(core, 3), MessageType.Data);
    expect(repair!.flags & (DATA_FLAG_PARITY | DATA_FLAG_FINAL_SLICE)).toBe(DATA_FLAG_PARITY | DATA_FLAG_FINAL_SLICE);
    // What the receiver checks once END told it the size (400 bytes, one slice).
    const g = { blockBytes: 100, sliceBlocks: 4, stripes: 1, imageBytes: 400 };
    expect(checkDataAgainstSession(g, repair!).ok).toBe(true);
  });

  it('the seed that found it: 3 receivers, 128 bytes of unknown size, 9.5% loss, all verify', () => {
    const r = runTransferFuzz({ seed: 166, mode: 'foreign' });
    expect(r.receiversOk).toBe(r.receivers);
  });
});

describe('a paced sender whose flow window is shut', () => {
  it('asks to be woken by its next HELLO or REQACK round, not at its stale refill time', () => {
    // 1000-byte blocks, 200 a slice, 8 Mbit/s: the 64 KiB bucket is spent after 62 packets,
    // then one packet per 1.05 ms until the 1000-packet window (from rcvBufBytes) is full.
    const core = new SenderCore(
      senderConfig({ minReceivers: 1, maxBitrateBps: 8_000_000, imageBytes: 4_000_000, blockBytes: 1000, sliceBlocks: 200, retriesUntilDrop: 1000 }),
      0,
    );
    core.handle({ kind: 'datagram', from: rcv(0).from, bytes: joinBytes({ receiverId: rcv(0).id, rcvBufBytes: 3_584_000 }) }, 1);
    const image = pattern(4_000_000);
    let now = 1;
    let data = 0;
    let stalledWakeups = 0;
    for (let wakeups = 0; stalledWakeups < 20; wakeups++) {
      expect(wakeups).toBeLessThan(10_000);
      while (core.wantsSlice()) {
        const n = core.bytesRead;
        core.handle({ kind: 'slice', bytes: image.subarray(n, n + 200_000) }, now);
      }
      data += drainSender(core, now).filter((s) => s.to === 'data').length;
      const t = core.pollTimeout()!;
      expect(t, `woken at ${now} after ${data} DATA, window ${core.window}`).toBeGreaterThan(now);
      if (core.stats.windowStalls > 0) stalledWakeups++;
      now = t;
      core.handleTimeout(now);
    }
    expect(data).toBe(1000);
    // A STATUS opens the window: sending resumes at once, paced.
    core.handle({ kind: 'datagram', from: rcv(0).from, bytes: statusBytes({ receiverId: rcv(0).id, seenSeq: 500 }) }, now);
    expect(drainSender(core, now).filter((s) => s.to === 'data').length).toBeGreaterThan(0);
    expect(core.pollTimeout()!).toBeGreaterThan(now);
  });

  it('a refill deficit of a rounding error still waits a microsecond (seed 135: --async, paced)', () => {
    expect(runTransferFuzz({ seed: 135, mode: 'foreign' }).receiversOk).toBe(1);
  });
});

describe('every receiver that joined has left before the start', () => {
  it('there is no start deadline to wake for until the next JOIN', () => {
    const core = new SenderCore(senderConfig({ minReceivers: 2, maxWaitMs: 100 }), 0);
    core.handleTimeout(0);
    drainSender(core, 0);
    core.handle({ kind: 'datagram', from: rcv(0).from, bytes: joinBytes({ receiverId: rcv(0).id }) }, 5);
    core.handle({ kind: 'datagram', from: rcv(0).from, bytes: leaveBytes({ receiverId: rcv(0).id, reason: Reason.Interrupted }) }, 6);
    drainSender(core, 6);
    core.handleTimeout(200); // past firstJoin + maxWait
    drainSender(core, 200);
    expect(core.currentPhase).toBe('announcing');
    expect(core.pollTimeout()).toBe(1000); // the next HELLO
    // A new receiver: the deadline counts again (from the first join, so it is due at once).
    core.handle({ kind: 'datagram', from: rcv(1).from, bytes: joinBytes({ receiverId: rcv(1).id }) }, 300);
    expect(core.currentPhase).toBe('transferring');
  });
});

describe('a receiver verifying with a stray slice past the end of the image', () => {
  it('does not keep that slice’s NAK deadline', () => {
    const core = new ReceiverCore(receiverConfig(), 0);
    core.handle({ kind: 'datagram', from: SENDER, bytes: helloBytes({ imageBytes: IMAGE_BYTES_UNKNOWN }) }, 1);
    core.handle({ kind: 'datagram', from: SENDER, bytes: acceptBytes(0x101) }, 2);
    core.handle({ kind: 'datagram', from: SENDER, bytes: startBytes(64) }, 3);
    const image = pattern(400);
    const block = (sliceNo: number, b: number, flags = 0): Uint8Array =>
      dataBytes({ seq: sliceNo * 4 + b + 1, sliceNo, sliceBytes: 400, flags, stripe: 0, blockNo: b, payload: image.subarray(b * 100, b * 100 + 100) });
    for (let b = 0; b < 4; b++) core.handle({ kind: 'datagram', from: SENDER, bytes: block(0, b, b === 3 ? DATA_FLAG_LAST : 0) }, 4);
    // Blocks of slices 2 and 3 of an image that turns out to have one slice (a forged or
    // stale datagram in the sender's name): slice 2 is then due and has a NAK timer.
    core.handle({ kind: 'datagram', from: SENDER, bytes: block(2, 0) }, 5);
    core.handle({ kind: 'datagram', from: SENDER, bytes: block(3, 0) }, 5);
    core.handle({ kind: 'datagram', from: SENDER, bytes: endBytes(400, 1, pattern(32)) }, 6);
    drainReceiver(core);
    drainEvents(core);
    expect(core.currentState).toBe('verifying');
    for (const now of [10, 50, 100, 1000]) {
      core.handleTimeout(now);
      drainReceiver(core);
      expect(core.pollTimeout()!, `at ${now}`).toBeGreaterThan(now);
    }
  });
});
