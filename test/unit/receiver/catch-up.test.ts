// ReceiverCore in the catch-up pass (receiver/core.ts, core/passes.ts, nak-scheduler.ts): told by the
// sender (CATCHUP) it asks for nothing while the first pass goes on, keeps its place, and
// once END says the first pass is over asks for every slice of its window at once; a late
// receiver whose output takes the image only in order joins with CAP_IN_ORDER and takes it
// all there. Session: 100-byte blocks, 4 a slice, 1 stripe, 4000 bytes = 10 slices of 400,
// retainSlices 4. `random` is 0.5: a NAK for a whole slice goes 5 ms after it is due.

import { describe, expect, it } from 'vitest';
import { CAP_CATCH_UP, CAP_IMAGE_COMPRESSED, CAP_IN_ORDER, CAP_PARITY_REPAIR, CAP_STREAMING, MessageType } from '../../../protocol/header.js';
import { CatchUpWhy } from '../../../protocol/messages/catch-up.js';
import { DATA_FLAG_FINAL_SLICE, DATA_FLAG_LAST } from '../../../protocol/messages/data.js';
import { HEARTBEAT_FLAG_CATCH_UP } from '../../../protocol/messages/heartbeat.js';
import { HelloPhase } from '../../../protocol/messages/hello.js';
import { Reason } from '../../../protocol/reasons.js';
import { type ReceiverConfig, ReceiverCore } from '../../../receiver/core.js';
import { pattern } from '../../support/bytes.js';
import { drainEvents, drainReceiver, only, receiverConfig } from '../../support/cores.js';
import { acceptBytes, catchUpBytes, dataBytes, endBytes, helloBytes, reqackBytes, SENDER, startBytes } from '../../support/datagrams.js';

const ME = 0x101;
const IMAGE = pattern(4000);
const DIGEST = pattern(32, 7);

function feed(core: ReceiverCore, bytes: Uint8Array, now: number): void {
  core.handle({ kind: 'datagram', from: SENDER, bytes }, now);
}

let seq = 0;
function feedSlice(core: ReceiverCore, n: number, now: number, skip?: number): void {
  for (let b = 0; b < 4; b++) {
    if (b === skip) {
      seq++;
      continue;
    }
    const flags = (b === 3 ? DATA_FLAG_LAST : 0) | (n === 9 ? DATA_FLAG_FINAL_SLICE : 0);
    feed(
      core,
      dataBytes({ seq: ++seq, sliceNo: n, sliceBytes: 400, flags, stripe: 0, blockNo: b, payload: IMAGE.subarray(n * 400 + b * 100, n * 400 + b * 100 + 100) }),
      now,
    );
  }
}

function receiving(over: Partial<ReceiverConfig> = {}): ReceiverCore {
  seq = 0;
  const core = new ReceiverCore(receiverConfig(over), 0);
  feed(core, helloBytes({ imageBytes: 4000, retainSlices: 4, caps: CAP_PARITY_REPAIR | CAP_CATCH_UP }), 1);
  feed(core, acceptBytes(ME), 2);
  feed(core, startBytes(64), 3);
  drainReceiver(core);
  drainEvents(core);
  return core;
}

describe('ReceiverCore moved to the catch-up pass', () => {
  it('asks for nothing until END, keeps its place, then asks for what its window lacks, all at once', () => {
    // Its sink takes two slices and then nothing for a while: slices 0 and 1 wait in it,
    // 2..5 fill its window, 6..9 go by beyond it.
    const core = receiving({ maxQueuedSlices: 2 });
    feedSlice(core, 0, 10);
    feedSlice(core, 1, 10);
    feed(core, catchUpBytes({ receiverId: ME, why: CatchUpWhy.Slow, rateKBps: 8000, paceKBps: 15000 }), 11);
    expect(drainEvents(core).filter((e) => e.kind !== 'deliver')).toEqual([{ kind: 'catchUp', why: CatchUpWhy.Slow, rateKBps: 8000, paceKBps: 15000 }]);
    for (let n = 2; n < 10; n++) feedSlice(core, n, 20);
    expect(core.stats.drops.ERR_AHEAD).toBe(16);
    // Its sink takes the two slices: 2 and 3 go to it, and 6 and 7 enter the window, due
    // (their first pass went by): nothing is asked for while the first pass goes on.
    core.handle({ kind: 'written', slices: 2, bytes: 800 }, 30);
    for (let t = 30; t < 2000; t += 50) core.handleTimeout(t);
    expect(only(drainReceiver(core), MessageType.Nak)).toEqual([]);
    // The sender's REQACK does not wait for it: no STATUS in reply.
    feed(core, reqackBytes({ reqackId: 1, needSlices: 8, needSeq: seq }), 2000);
    expect(only(drainReceiver(core), MessageType.Status)).toEqual([]);
    // The first pass is over: 6 and 7, the whole need of each, at once (5 ms, band 0).
    feed(core, endBytes(4000, 10, DIGEST), 2001);
    expect(drainEvents(core)).toContainEqual({ kind: 'catchUpBegan', fromSlice: 4 });
    core.handleTimeout(2005);
    expect(only(drainReceiver(core), MessageType.Nak)).toEqual([]);
    core.handleTimeout(2006);
    expect(only(drainReceiver(core), MessageType.Nak).map((n) => [n.sliceNo, n.need[0]])).toEqual([
      [6, 4],
      [7, 4],
    ]);
  });

  it('outrun by the first pass, it wants no more of the data group until END; what went by meanwhile is not loss', () => {
    const core = receiving({ maxQueuedSlices: 2 });
    feedSlice(core, 0, 10);
    feedSlice(core, 1, 10);
    expect(core.dataWanted).toBe(true);
    feed(core, catchUpBytes({ receiverId: ME, why: CatchUpWhy.Slow }), 11);
    // Slices 2..5 fill its window: it still wants what the first pass sends.
    for (let n = 2; n < 6; n++) feedSlice(core, n, 20);
    expect(core.dataWanted).toBe(true);
    // Slice 6 lies beyond: the first pass has outrun it.
    feedSlice(core, 6, 21);
    expect(core.dataWanted).toBe(false);
    expect(drainEvents(core).filter((e) => e.kind === 'dataGroupLeft')).toEqual([{ kind: 'dataGroupLeft', atSlice: 2 }]);
    // Its driver left the group: slices 7..9 (12 DATA) go by unheard. Its sink takes two slices meanwhile.
    seq += 12;
    core.handle({ kind: 'written', slices: 2, bytes: 800 }, 30);
    expect(core.dataWanted).toBe(false);
    // END: the catch-up pass begins, and it wants the data group again (its driver joins
    // before the NAKs go out).
    feed(core, endBytes(4000, 10, DIGEST), 2001);
    expect(core.dataWanted).toBe(true);
    core.handleTimeout(2006);
    expect(only(drainReceiver(core), MessageType.Nak).map((n) => n.sliceNo)).toEqual([6, 7]);
    // The first DATA it hears again (a resend of slice 6) counts the 12 it did not hear as
    // read: nothing was lost on the network.
    seq += 5; // other receivers' repairs, sent before it joined again
    feedSlice(core, 6, 2010);
    feed(core, reqackBytes({ reqackId: 1, needSlices: 10, needSeq: seq }), 2011);
    core.handleTimeout(2400);
    const status = only(drainReceiver(core), MessageType.Status);
    expect(status.length).toBeGreaterThan(0);
    expect(status.at(-1)!.lossPpm).toBe(0);
    expect(core.stats.dataUnheard).toBe(12 + 5);
  });

  it('a CATCHUP that comes after END fetches at once; its heartbeats say so', () => {
    const core = receiving({ heartbeatIntervalMs: 100 });
    feedSlice(core, 0, 10, 1);
    feed(core, endBytes(4000, 10, DIGEST), 20);
    feed(core, catchUpBytes({ receiverId: ME, why: CatchUpWhy.BelowMinRate }), 21);
    expect(drainEvents(core).map((e) => e.kind)).toEqual(['catchUp', 'catchUpBegan']);
    core.handleTimeout(102);
    const hb = only(drainReceiver(core), MessageType.Heartbeat);
    expect(hb.map((h) => h.flags & HEARTBEAT_FLAG_CATCH_UP)).toEqual([HEARTBEAT_FLAG_CATCH_UP]);
  });

  it("another receiver's CATCHUP changes nothing", () => {
    const core = receiving();
    feed(core, catchUpBytes({ receiverId: ME + 1 }), 10);
    expect(drainEvents(core)).toEqual([]);
    feedSlice(core, 0, 20, 0);
    feedSlice(core, 1, 20);
    // Slice 0 lacks one block: its NAK goes 35 ms after it became due (band 3).
    core.handleTimeout(55);
    expect(only(drainReceiver(core), MessageType.Nak).map((n) => n.sliceNo)).toEqual([0]);
  });
});

describe('ReceiverCore late, taking the image only in order', () => {
  const lateHello = (caps: number) => helloBytes({ phase: HelloPhase.Transferring, imageBytes: 4000, retainSlices: 4, caps });

  it('joins with CAP_IN_ORDER when the sender serves a catch-up pass, and takes everything from slice 0 after END', () => {
    const core = new ReceiverCore(receiverConfig({ lateJoinBlocker: '--unpack takes the archive only in order' }), 0);
    feed(core, lateHello(CAP_PARITY_REPAIR | CAP_STREAMING | CAP_CATCH_UP), 1);
    core.handleTimeout(1);
    const [join] = only(drainReceiver(core), MessageType.Join);
    expect(join!.caps).toBe(CAP_PARITY_REPAIR | CAP_IN_ORDER);
    feed(core, acceptBytes(ME, undefined, 6), 10);
    expect(drainEvents(core).map((e) => e.kind)).toEqual(['session', 'accepted', 'started', 'catchUp']);
    seq = 100;
    feedSlice(core, 6, 20);
    feedSlice(core, 7, 20);
    core.handleTimeout(100);
    expect(only(drainReceiver(core), MessageType.Nak)).toEqual([]);
    feed(core, endBytes(4000, 10, DIGEST), 200);
    core.handleTimeout(205);
    expect(only(drainReceiver(core), MessageType.Nak).map((n) => n.sliceNo)).toEqual([0, 1, 2, 3]);
  });

  it('a compressed image into an output that decompresses by magic is taken in order too', () => {
    const core = new ReceiverCore(receiverConfig({ decompressesByMagic: true }), 0);
    feed(core, lateHello(CAP_PARITY_REPAIR | CAP_STREAMING | CAP_CATCH_UP | CAP_IMAGE_COMPRESSED), 1);
    core.handleTimeout(1);
    expect(only(drainReceiver(core), MessageType.Join)[0]!.caps & CAP_IN_ORDER).toBe(CAP_IN_ORDER);
    // The same output with a raw image writes at offsets, as before.
    const raw = new ReceiverCore(receiverConfig({ decompressesByMagic: true }), 0);
    feed(raw, lateHello(CAP_PARITY_REPAIR | CAP_STREAMING | CAP_CATCH_UP), 1);
    raw.handleTimeout(1);
    expect(only(drainReceiver(raw), MessageType.Join)[0]!.caps & CAP_IN_ORDER).toBe(0);
  });

  it('without a catch-up pass on offer it ends as before, naming why', () => {
    const core = new ReceiverCore(receiverConfig({ lateJoinBlocker: 'stdout takes the image only in order' }), 0);
    feed(core, lateHello(CAP_PARITY_REPAIR | CAP_STREAMING), 1);
    const done = drainEvents(core).find((e) => e.kind === 'done');
    expect(done).toMatchObject({ ok: false, reason: Reason.LateJoin });
    expect(done?.kind === 'done' && done.detail).toMatch(/in place: stdout takes the image only in order$/);
  });
});
