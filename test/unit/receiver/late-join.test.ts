// ReceiverCore joining a transfer already under way (receiver/core.ts; receiver/core/passes.ts, "Late join").
// The session: 100-byte blocks, 4 blocks a slice, 1 stripe (k = 4), 4000 bytes = 10
// slices of 400 (slice 9 the final one), retainSlices 8. `random` is 0.5, so a NAK for a
// whole slice (need 4, band 0) goes out nakBackoffMs (40) * 0.5 / 4 = 5 ms after the
// slice became due; after it, the next waits repairWaitMs (50) + 5 ms.

import { describe, expect, it } from 'vitest';
import { CAP_PARITY_REPAIR, CAP_STREAMING, MessageType } from '../../../protocol/header.js';
import { DATA_FLAG_FINAL_SLICE, DATA_FLAG_LAST, DATA_FLAG_REPAIR } from '../../../protocol/messages/data.js';
import { HelloPhase } from '../../../protocol/messages/hello.js';
import { STATUS_FLAG_COMPLETE } from '../../../protocol/messages/status.js';
import { Reason } from '../../../protocol/reasons.js';
import { type ReceiverConfig, ReceiverCore, type ReceiverEvent } from '../../../receiver/core.js';
import { pattern } from '../../support/bytes.js';
import { drainEvents, drainReceiver, only, receiverConfig, types } from '../../support/cores.js';
import { acceptBytes, dataBytes, endBytes, helloBytes, reqackBytes, SENDER, SESSION, startBytes } from '../../support/datagrams.js';

const ME = 0x101;
const IMAGE = pattern(4000);
const DIGEST = pattern(32, 7);
const SLICE = 400;
const STREAMING = CAP_PARITY_REPAIR | CAP_STREAMING;

function feed(core: ReceiverCore, bytes: Uint8Array, now: number): void {
  core.handle({ kind: 'datagram', from: SENDER, bytes }, now);
}

function hello(o: { phase: HelloPhase; caps?: number }): Uint8Array {
  return helloBytes({ phase: o.phase, caps: o.caps ?? STREAMING, imageBytes: 4000, retainSlices: 8 });
}

let seq = 0;

/** Data block `b` of slice `n`: first pass (LAST on block 3), or a repair (REPAIR, no LAST). */
function block(n: number, b: number, o: { repair?: boolean } = {}): Uint8Array {
  const final = n === 9 ? DATA_FLAG_FINAL_SLICE : 0;
  const flags = final | (o.repair ? DATA_FLAG_REPAIR : b === 3 ? DATA_FLAG_LAST : 0);
  const payload = IMAGE.subarray(n * SLICE + b * 100, n * SLICE + (b + 1) * 100);
  return dataBytes({ seq: ++seq, sliceNo: n, sliceBytes: SLICE, flags, stripe: 0, blockNo: b, payload });
}

function feedSlice(core: ReceiverCore, n: number, now: number, o: { repair?: boolean } = {}): void {
  for (let b = 0; b < 4; b++) feed(core, block(n, b, o), now);
}

function delivered(events: readonly ReceiverEvent[]): [number, number, Buffer][] {
  return events.flatMap((e) => (e.kind === 'deliver' ? [[e.sliceNo, e.offset, Buffer.from(e.bytes)] as [number, number, Buffer]] : []));
}

function sliceAt(n: number): [number, number, Buffer] {
  return [n, n * SLICE, Buffer.from(IMAGE.subarray(n * SLICE, (n + 1) * SLICE))];
}

/** A receiver that heard HELLO(phase Transferring, --streaming) at t=1 and sent its JOIN. */
function lateJoining(over: Partial<ReceiverConfig> = {}): ReceiverCore {
  seq = 100;
  const core = new ReceiverCore(receiverConfig(over), 0);
  feed(core, hello({ phase: HelloPhase.Transferring }), 1);
  expect(types(drainReceiver(core))).toEqual(['JOIN']);
  expect(drainEvents(core).map((e) => e.kind)).toEqual(['session']);
  expect(core.currentState).toBe('joining');
  return core;
}

describe('ReceiverCore: a HELLO that says the transfer is under way', () => {
  it('without CAP_STREAMING, ends at once with LateJoin, naming --streaming, and sends nothing', () => {
    const core = new ReceiverCore(receiverConfig(), 0);
    feed(core, hello({ phase: HelloPhase.Transferring, caps: CAP_PARITY_REPAIR }), 1);
    const events = drainEvents(core);
    expect(events.map((e) => e.kind)).toEqual(['session', 'done']);
    expect(events[1]).toMatchObject({ ok: false, reason: Reason.LateJoin });
    expect((events[1] as { detail: string }).detail).toMatch(/--streaming/);
    expect(drainReceiver(core)).toEqual([]);
    expect(core.currentState).toBe('done');
    core.handleTimeout(1000);
    expect(drainReceiver(core)).toEqual([]);
    expect(core.pollTimeout()).toBeUndefined();
  });

  it('with lateJoinBlocker, ends the same way with the blocker in the detail', () => {
    const blocker = 'stdout takes the image only in order';
    const core = new ReceiverCore(receiverConfig({ lateJoinBlocker: blocker }), 0);
    feed(core, hello({ phase: HelloPhase.Transferring }), 1);
    const events = drainEvents(core);
    expect(events.map((e) => e.kind)).toEqual(['session', 'done']);
    expect(events[1]).toMatchObject({ ok: false, reason: Reason.LateJoin });
    expect((events[1] as { detail: string }).detail).toContain(blocker);
    expect(drainReceiver(core)).toEqual([]);
    expect(core.currentState).toBe('done');
  });

  it('with lateJoinBlocker, an announcing HELLO still joins', () => {
    const core = new ReceiverCore(receiverConfig({ lateJoinBlocker: 'stdout' }), 0);
    feed(core, hello({ phase: HelloPhase.Announcing }), 1);
    expect(types(drainReceiver(core))).toEqual(['JOIN']);
    expect(core.currentState).toBe('joining');
  });
});

describe('ReceiverCore late join, full path', () => {
  it('ignores the transfer until ACCEPT, takes 6..9 live, then the head 0..5 by repair', () => {
    const core = lateJoining();
    const stats0 = structuredClone(core.stats);

    // Before the ACCEPT: the transfer going on is not ours.
    feed(core, block(5, 0), 2);
    feed(core, startBytes(64), 2);
    feed(core, reqackBytes({ reqackId: 1, needSlices: 5, needSeq: seq }), 2);
    feed(core, endBytes(4000, 10, DIGEST), 2);
    expect(drainEvents(core)).toEqual([]);
    expect(drainReceiver(core)).toEqual([]);
    // Counted as let by before our ACCEPT, and nothing else.
    expect(core.stats).toEqual({ ...stats0, beforeAccept: 4 });
    expect(core.currentState).toBe('joining');

    feed(core, acceptBytes(ME, SESSION, 6), 5);
    expect(drainEvents(core)).toEqual([
      { kind: 'accepted', joinSlice: 6 },
      { kind: 'started', windowPackets: 64 },
    ]);
    expect(core.currentState).toBe('receiving');

    // Pass A: slices 6..9 live. A packet of slice 5 (before J) is a duplicate.
    feed(core, block(5, 1), 10);
    expect(core.stats.duplicates).toBe(1);
    for (let n = 6; n <= 9; n++) feedSlice(core, n, 10);
    expect(delivered(drainEvents(core))).toEqual([6, 7, 8, 9].map(sliceAt));
    // STATUS: on the first DATA (seenSeq moved a quarter window), then every 2 slices
    // delivered (retainSlices / 4); counted from J, as the sender counts us.
    const passA = only(drainReceiver(core), MessageType.Status);
    expect(passA.map((s) => s.deliveredSlices)).toEqual([6, 8, 10]);
    core.handle({ kind: 'written', slices: 4, bytes: 4 * SLICE }, 11);
    expect(drainEvents(core)).toEqual([]);

    // END: every slice from J on is delivered; the head pass starts. Its STATUS says 10.
    feed(core, endBytes(4000, 10, DIGEST), 20);
    expect(drainEvents(core)).toEqual([{ kind: 'head', slices: 6 }]);
    const atEnd = drainReceiver(core);
    expect(types(atEnd)).toEqual(['STATUS']);
    expect(only(atEnd, MessageType.Status)[0]!.deliveredSlices).toBe(10);

    // Every head slice is due at once: NAKs for 0..5, need 4 each, 5 ms later, not before.
    expect(core.pollTimeout()).toBe(25);
    core.handleTimeout(24);
    expect(drainReceiver(core)).toEqual([]);
    core.handleTimeout(25);
    const naks = only(drainReceiver(core), MessageType.Nak);
    expect(naks.map((k) => [k.sliceNo, k.need, k.heard, k.receiverId])).toEqual([0, 1, 2, 3, 4, 5].map((n) => [n, [4], [0], ME]));
    expect(core.stats.naksSent).toBe(6);

    // The repairs: each slice's data blocks again. The sink holds 4 (maxQueuedSlices).
    for (let n = 0; n <= 5; n++) feedSlice(core, n, 30, { repair: true });
    expect(delivered(drainEvents(core))).toEqual([0, 1, 2, 3].map(sliceAt));
    const headStatus = only(drainReceiver(core), MessageType.Status);
    expect(headStatus.length).toBeGreaterThan(0);
    expect(headStatus.every((s) => s.deliveredSlices === 10)).toBe(true);
    core.handle({ kind: 'written', slices: 4, bytes: 4 * SLICE }, 31);
    expect(drainEvents(core)).toEqual([
      { kind: 'deliver', sliceNo: 4, offset: 1600, bytes: IMAGE.subarray(1600, 2000) },
      { kind: 'deliver', sliceNo: 5, offset: 2000, bytes: IMAGE.subarray(2000, 2400) },
      { kind: 'complete', totalBytes: 4000, digest: DIGEST },
    ]);
    expect(core.currentState).toBe('verifying');
    // Two more delivered (a STATUS), then complete (a STATUS flagged so).
    const done = only(drainReceiver(core), MessageType.Status);
    expect(done.map((s) => [s.deliveredSlices, s.flags])).toEqual([
      [10, 0],
      [10, STATUS_FLAG_COMPLETE],
    ]);
    expect(core.stats.naksSent).toBe(6);
  });

  it('head pass: a slice already NAKed is asked again only repairWaitMs after the last head repair', () => {
    const core = lateJoining();
    feed(core, acceptBytes(ME, SESSION, 6), 5);
    for (let n = 6; n <= 9; n++) feedSlice(core, n, 10);
    core.handle({ kind: 'written', slices: 4, bytes: 4 * SLICE }, 11);
    feed(core, endBytes(4000, 10, DIGEST), 20);
    core.handleTimeout(25);
    expect(only(drainReceiver(core), MessageType.Nak)).toHaveLength(6);
    drainEvents(core);
    // Without repairs, 1..5 would be asked again at 25 + 50 + 5 = 80. Slice 0's repair at
    // 78 shows the sender is still answering: they wait until 78 + 50 = 128.
    feedSlice(core, 0, 78, { repair: true });
    expect(delivered(drainEvents(core))).toEqual([sliceAt(0)]);
    drainReceiver(core);
    expect(core.pollTimeout()).toBe(80);
    core.handleTimeout(80);
    expect(only(drainReceiver(core), MessageType.Nak)).toEqual([]);
    expect(core.pollTimeout()).toBe(128);
    core.handleTimeout(127);
    expect(only(drainReceiver(core), MessageType.Nak)).toEqual([]);
    core.handleTimeout(128);
    expect(only(drainReceiver(core), MessageType.Nak).map((k) => [k.sliceNo, k.need])).toEqual([1, 2, 3, 4, 5].map((n) => [n, [4]]));
  });

  it('head pass: DATA of slices from joinSlice on is a duplicate, and slices past the window wait', () => {
    seq = 100;
    const core = new ReceiverCore(receiverConfig(), 0);
    // retainSlices 4: only head slices 0..3 are NAKed at first.
    feed(core, helloBytes({ phase: HelloPhase.Transferring, caps: STREAMING, imageBytes: 4000, retainSlices: 4 }), 1);
    feed(core, acceptBytes(ME, SESSION, 6), 5);
    for (let n = 6; n <= 9; n++) feedSlice(core, n, 10);
    core.handle({ kind: 'written', slices: 4, bytes: 4 * SLICE }, 11);
    feed(core, endBytes(4000, 10, DIGEST), 20);
    expect(drainEvents(core).filter((e) => e.kind === 'head')).toEqual([{ kind: 'head', slices: 6 }]);
    drainReceiver(core);
    core.handleTimeout(25);
    expect(only(drainReceiver(core), MessageType.Nak).map((k) => k.sliceNo)).toEqual([0, 1, 2, 3]);
    const dups = core.stats.duplicates;
    feed(core, block(7, 0, { repair: true }), 26);
    expect(core.stats.duplicates).toBe(dups + 1);
    feedSlice(core, 0, 30, { repair: true });
    expect(delivered(drainEvents(core))).toEqual([sliceAt(0)]);
    // Slice 4 came into the window: due now, NAKed 5 ms later.
    core.handleTimeout(35);
    expect(only(drainReceiver(core), MessageType.Nak).map((k) => k.sliceNo)).toEqual([4]);
  });
});

describe('ReceiverCore late join: flow control in the head pass', () => {
  // In the head pass, DATA of a slice >= joinSlice (a repair the sender sends for another
  // receiver) is one we have, but it must still move seenSeq: the sender's flow window
  // counts every active receiver's seenSeq, and with it stuck, the head repairs queued for
  // us would never be sent (found by this test; it was `it.fails` until fixed).
  it('DATA of a slice past the head still moves seenSeq', () => {
    const core = lateJoining();
    feed(core, acceptBytes(ME, SESSION, 6), 5);
    for (let n = 6; n <= 9; n++) feedSlice(core, n, 10);
    core.handle({ kind: 'written', slices: 4, bytes: 4 * SLICE }, 11);
    drainReceiver(core);
    feed(core, endBytes(4000, 10, DIGEST), 20);
    expect(drainEvents(core).map((e) => e.kind)).toContain('head');
    const lastFirstPass = seq;
    expect(only(drainReceiver(core), MessageType.Status).map((s) => s.seenSeq)).toEqual([lastFirstPass]);
    // 20 repairs for another receiver's slice 7 go by.
    seq += 19;
    feed(core, block(7, 0, { repair: true }), 22);
    feed(core, endBytes(4000, 10, DIGEST), 23);
    // A STATUS for the seq moved (past a quarter of the window), and END's reply: both say it.
    expect(only(drainReceiver(core), MessageType.Status).map((s) => s.seenSeq)).toEqual([lastFirstPass + 20, lastFirstPass + 20]);
  });
});

describe('ReceiverCore: an ACCEPT with joinSlice > 0', () => {
  it('after slices from 0 were delivered, ends with LateJoin: start this receiver again', () => {
    seq = 0;
    const core = new ReceiverCore(receiverConfig(), 0);
    feed(core, hello({ phase: HelloPhase.Announcing }), 1);
    expect(types(drainReceiver(core))).toEqual(['JOIN']);
    // Our ACCEPT was lost; the transfer started and we took slice 0.
    feedSlice(core, 0, 3);
    expect(delivered(drainEvents(core))).toEqual([sliceAt(0)]);
    drainReceiver(core);
    // The sender, hearing our JOIN again after START, took us as a late receiver.
    feed(core, acceptBytes(ME, SESSION, 2), 4);
    const events = drainEvents(core);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'done', ok: false, reason: Reason.LateJoin });
    expect((events[0] as { detail: string }).detail).toMatch(/start this receiver again/);
    expect(only(drainReceiver(core), MessageType.Leave).map((l) => [l.receiverId, l.reason])).toEqual([
      [ME, Reason.LateJoin],
      [ME, Reason.LateJoin],
    ]);
    expect(core.currentState).toBe('done');
  });

  it('a receiver that joined normally delivers slices with offset sliceNo x slice bytes', () => {
    seq = 0;
    const core = new ReceiverCore(receiverConfig(), 0);
    feed(core, hello({ phase: HelloPhase.Announcing }), 1);
    feed(core, acceptBytes(ME), 2);
    feed(core, startBytes(64), 3);
    expect(drainEvents(core).map((e) => e.kind)).toEqual(['session', 'accepted', 'started']);
    for (let n = 0; n < 3; n++) feedSlice(core, n, 4);
    expect(delivered(drainEvents(core))).toEqual([0, 1, 2].map(sliceAt));
  });
});
