// ReceiverCore driven directly: hand-made datagrams in, explicit `now`, every transmit
// decoded. The session (test/support/cores.ts, helloBytes in test/support/datagrams.ts): 100-byte blocks, 4 blocks a slice,
// 1 stripe, 950 bytes = slices of 400, 400 and 150 (blocks of 100 and 50); retainSlices 4.
// `random` is 0.5, so a NAK backoff (receiver/core/nak-scheduler.ts `nakTime`) is
// nakBackoffMs (40) * (band + 0.5) / 4, band = 4 - need below 4: 35 ms for need 1, 25 ms
// for need 2. After a NAK (ours, or one that silenced ours) the next counts from
// repairWaitMs (50) later, with a fresh backoff on top.

import { describe, expect, it } from 'vitest';
import { CAP_CLONE_REPORTS, CAP_PARITY_REPAIR, MessageType } from '../../../protocol/header.js';
import { DATA_FLAG_FINAL_SLICE, DATA_FLAG_LAST, DATA_FLAG_PARITY, DATA_FLAG_REPAIR, type Data } from '../../../protocol/messages/data.js';
import type { Hello } from '../../../protocol/messages/hello.js';
import { Outcome } from '../../../protocol/messages/report.js';
import { REQACK_FLAG_QUIET } from '../../../protocol/messages/reqack.js';
import { STATUS_FLAG_COMPLETE, STATUS_FLAG_REPLY } from '../../../protocol/messages/status.js';
import { Reason } from '../../../protocol/reasons.js';
import { type ReceiverConfig, ReceiverCore, type ReceiverEvent } from '../../../receiver/core.js';
import { pattern } from '../../support/bytes.js';
import { coder, decode, drainEvents, drainReceiver, only, receiverConfig, types } from '../../support/cores.js';
import {
  acceptBytes,
  dataBytes,
  dropBytes,
  endBytes,
  heartbeatBytes,
  helloBytes,
  joinBytes,
  nakBytes,
  OTHER_SESSION,
  rcv,
  reportAckBytes,
  reqackBytes,
  SENDER,
  SESSION,
  STRANGER,
  startBytes,
  statusBytes,
} from '../../support/datagrams.js';

const ME = 0x101;
const IMAGE = pattern(950);
const DIGEST = pattern(32, 7);
const SLICE_BYTES = [400, 400, 150];

type From = { readonly address: string; readonly port: number };

function feed(core: ReceiverCore, bytes: Uint8Array, now: number, from: From = SENDER): void {
  core.handle({ kind: 'datagram', from, bytes }, now);
}

function sliceOf(n: number): Uint8Array {
  return IMAGE.subarray(n * 400, n * 400 + SLICE_BYTES[n]!);
}

let seq = 0;

/** Data block `b` of slice `n`, as the sender sends it on the first pass. */
function block(n: number, b: number, o: { seq?: number } = {}): Uint8Array {
  const nBlocks = Math.ceil(SLICE_BYTES[n]! / 100);
  const flags = (n === 2 ? DATA_FLAG_FINAL_SLICE : 0) | (b === nBlocks - 1 ? DATA_FLAG_LAST : 0);
  const payload = sliceOf(n).subarray(b * 100, (b + 1) * 100);
  const sliceBytes = SLICE_BYTES[n]!;
  return dataBytes({ seq: o.seq ?? ++seq, sliceNo: n, sliceBytes, flags, stripe: 0, blockNo: b, payload });
}

/** Parity symbol `index` of slice `n` (one stripe), the short last block zero-padded. */
function parityOf(n: number, index: number): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (let b = 0; b * 100 < SLICE_BYTES[n]!; b++) {
    const padded = new Uint8Array(100);
    padded.set(sliceOf(n).subarray(b * 100, (b + 1) * 100));
    blocks.push(padded);
  }
  const out = new Uint8Array(100);
  coder.encodeParity(blocks, index, out);
  return out;
}

function parity(n: number, index: number): Uint8Array {
  const flags = DATA_FLAG_PARITY | DATA_FLAG_REPAIR | (n === 2 ? DATA_FLAG_FINAL_SLICE : 0);
  const payload = parityOf(n, index);
  return dataBytes({ seq: ++seq, sliceNo: n, sliceBytes: SLICE_BYTES[n]!, flags, stripe: 0, blockNo: index, payload });
}

function feedSlice(core: ReceiverCore, n: number, now: number): void {
  for (let b = 0; b * 100 < SLICE_BYTES[n]!; b++) feed(core, block(n, b), now);
}

/** HELLO (with `hello` over the defaults) at 1, ACCEPT at 2, START (window 64) at 3; everything drained: state receiving. */
function receiving(over: Partial<ReceiverConfig> = {}, hello: Partial<Hello> = {}): ReceiverCore {
  seq = 0;
  const core = new ReceiverCore(receiverConfig(over), 0);
  feed(core, helloBytes(hello), 1);
  feed(core, acceptBytes(ME), 2);
  feed(core, startBytes(64), 3);
  drainReceiver(core);
  drainEvents(core);
  expect(core.currentState).toBe('receiving');
  return core;
}

function failed(reason: Reason): ReceiverEvent {
  return { kind: 'done', ok: false, reason, detail: expect.any(String) as string };
}

function delivered(events: ReceiverEvent[]): [number, Buffer][] {
  return events.flatMap((e) => (e.kind === 'deliver' ? [[e.sliceNo, Buffer.from(e.bytes)] as [number, Buffer]] : []));
}

describe('ReceiverCore listening', () => {
  it('ignores everything but HELLO', () => {
    seq = 0;
    const core = new ReceiverCore(receiverConfig(), 0);
    const reqack = reqackBytes({ reqackId: 1, needSlices: 1, needSeq: 1 });
    for (const bytes of [acceptBytes(ME), startBytes(64), block(0, 0), reqack, endBytes(950, 3, DIGEST)]) {
      feed(core, bytes, 1);
    }
    expect(drainReceiver(core)).toEqual([]);
    expect(drainEvents(core)).toEqual([]);
    expect(core.currentState).toBe('listening');
    expect(core.stats.drops).toEqual({});
  });

  it('gives up at startTimeoutMs, not a millisecond before, without a LEAVE', () => {
    const core = new ReceiverCore(receiverConfig({ startTimeoutMs: 1000 }), 0);
    expect(core.pollTimeout()).toBe(1000);
    core.handleTimeout(999);
    expect(core.currentState).toBe('listening');
    expect(drainEvents(core)).toEqual([]);
    core.handleTimeout(1000);
    expect(drainEvents(core)).toEqual([failed(Reason.StartTimeout)]);
    expect(drainReceiver(core)).toEqual([]);
    expect(core.pollTimeout()).toBeUndefined();
  });

  it('waits forever without startTimeoutMs', () => {
    const core = new ReceiverCore(receiverConfig(), 0);
    expect(core.pollTimeout()).toBeUndefined();
  });
});

describe('ReceiverCore joining', () => {
  it("says whether the sender's HELLO asks clone agents for their reports (CAP_CLONE_REPORTS)", () => {
    const core = new ReceiverCore(receiverConfig(), 0);
    feed(core, helloBytes({ caps: CAP_PARITY_REPAIR | CAP_CLONE_REPORTS }), 1);
    expect(drainEvents(core)).toEqual([expect.objectContaining({ kind: 'session', cloneReports: true })]);
  });

  it('takes the session from HELLO and sends JOIN at once', () => {
    const core = new ReceiverCore(receiverConfig(), 0);
    feed(core, helloBytes(), 1);
    expect(drainEvents(core)).toEqual([
      {
        kind: 'session',
        sessionId: SESSION,
        sender: SENDER.address,
        dataGroup: '239.192.67.1',
        dataPort: 9000,
        imageBytes: 950,
        cloneReports: false,
      },
    ]);
    expect(only(drainReceiver(core), MessageType.Join)).toEqual([{ sessionId: SESSION, receiverId: ME, caps: CAP_PARITY_REPAIR, rcvBufBytes: 1 << 20 }]);
    expect(core.currentState).toBe('joining');
  });

  it('repeats JOIN every joinIntervalMs until ACCEPT', () => {
    const core = new ReceiverCore(receiverConfig(), 0);
    feed(core, helloBytes(), 1);
    drainReceiver(core);
    expect(core.pollTimeout()).toBe(31);
    core.handleTimeout(30);
    expect(drainReceiver(core)).toEqual([]);
    core.handleTimeout(31);
    expect(types(drainReceiver(core))).toEqual(['JOIN']);
    drainEvents(core);
    feed(core, acceptBytes(ME), 40);
    expect(drainEvents(core)).toEqual([{ kind: 'accepted', joinSlice: 0 }]);
    expect(core.currentState).toBe('accepted');
    core.handleTimeout(61);
    core.handleTimeout(91);
    expect(drainReceiver(core)).toEqual([]);
  });

  it('ignores an ACCEPT for another receiver', () => {
    const core = new ReceiverCore(receiverConfig(), 0);
    feed(core, helloBytes(), 1);
    drainEvents(core);
    feed(core, acceptBytes(0x999), 2);
    expect(drainEvents(core)).toEqual([]);
    expect(core.currentState).toBe('joining');
  });

  it('drops datagrams from another sender address once the session is chosen', () => {
    const core = new ReceiverCore(receiverConfig(), 0);
    feed(core, helloBytes(), 1);
    drainEvents(core);
    feed(core, acceptBytes(ME), 2, STRANGER);
    feed(core, helloBytes(), 2, STRANGER);
    expect(core.stats.drops).toEqual({ ERR_WRONG_SENDER: 2 });
    expect(drainEvents(core)).toEqual([]);
    expect(core.currentState).toBe('joining');
  });

  it('drops datagrams of another session', () => {
    const core = new ReceiverCore(receiverConfig(), 0);
    feed(core, helloBytes(), 1);
    drainEvents(core);
    feed(core, helloBytes({ sessionId: OTHER_SESSION }), 2, STRANGER);
    feed(core, acceptBytes(ME, OTHER_SESSION), 2);
    expect(core.stats.drops).toEqual({ ERR_WRONG_SESSION: 2 });
    expect(core.currentState).toBe('joining');
  });

  it('goes from ACCEPT to started with the window START carries', () => {
    const core = new ReceiverCore(receiverConfig(), 0);
    feed(core, helloBytes(), 1);
    feed(core, acceptBytes(ME), 2);
    feed(core, startBytes(48), 3);
    expect(drainEvents(core).slice(1)).toEqual([
      { kind: 'accepted', joinSlice: 0 },
      { kind: 'started', windowPackets: 48 },
    ]);
    expect(core.currentState).toBe('receiving');
  });
});

describe('ReceiverCore delivery', () => {
  it('delivers each slice, in order, only once it is complete', () => {
    const core = receiving();
    for (let b = 0; b < 3; b++) feed(core, block(0, b), 10);
    expect(drainEvents(core)).toEqual([]);
    feed(core, block(0, 3), 10);
    expect(delivered(drainEvents(core))).toEqual([[0, Buffer.from(sliceOf(0))]]);
    feedSlice(core, 1, 11);
    feedSlice(core, 2, 12);
    expect(delivered(drainEvents(core))).toEqual([
      [1, Buffer.from(sliceOf(1))],
      [2, Buffer.from(sliceOf(2))],
    ]);
    expect(core.stats.dataPackets).toBe(10);
    expect(core.progress.delivered).toBe(3);
  });

  it('holds a complete slice until the ones before it are delivered', () => {
    const core = receiving();
    feedSlice(core, 1, 10);
    expect(delivered(drainEvents(core))).toEqual([]);
    feedSlice(core, 0, 11);
    expect(delivered(drainEvents(core)).map(([n]) => n)).toEqual([0, 1]);
  });

  it('with maxQueuedSlices 1, delivers the next slice only after the sink wrote one', () => {
    const core = receiving({ maxQueuedSlices: 1 });
    feedSlice(core, 0, 10);
    feedSlice(core, 1, 10);
    expect(delivered(drainEvents(core)).map(([n]) => n)).toEqual([0]);
    core.handle({ kind: 'written', slices: 1, bytes: 400 }, 11);
    expect(delivered(drainEvents(core))).toEqual([[1, Buffer.from(sliceOf(1))]]);
    expect(core.progress.bytesWritten).toBe(400);
  });

  it('answers a REQACK it is behind on with a STATUS reply', () => {
    const core = receiving();
    feedSlice(core, 0, 10);
    drainReceiver(core);
    feed(core, reqackBytes({ reqackId: 1, needSlices: 1, needSeq: 8 }), 11);
    expect(only(drainReceiver(core), MessageType.Status)).toEqual([
      { sessionId: SESSION, receiverId: ME, flags: STATUS_FLAG_REPLY, seenSeq: 4, deliveredSlices: 1, bytesWritten: 0, reqackId: 1, lossPpm: 0 },
    ]);
    feed(core, reqackBytes({ reqackId: 2, needSlices: 1, needSeq: 4 }), 12);
    expect(drainReceiver(core)).toEqual([]);
  });

  it('in a quiet session, says nothing of its progress between a REQACK that finds it behind and its answer', () => {
    const core = receiving();
    feedSlice(core, 0, 10);
    drainReceiver(core);
    const quiet = { flags: REQACK_FLAG_QUIET, answerWindowMs: 4, groupSize: 1000, heartbeatMs: 60_000 };
    feed(core, reqackBytes({ reqackId: 1, needSlices: 3, needSeq: 100, ...quiet }), 11);
    expect(drainReceiver(core)).toEqual([]);
    // A slice delivered while the answer waits: still behind, but not yet the one the sender
    // follows (a later copy may show someone worse answered), so no progress STATUS.
    feedSlice(core, 1, 12);
    expect(drainReceiver(core)).toEqual([]);
    const answerAt = core.pollTimeout()!;
    expect(answerAt).toBeGreaterThan(12);
    expect(answerAt).toBeLessThan(11 + 4);
    core.handleTimeout(answerAt);
    expect(only(drainReceiver(core), MessageType.Status)).toEqual([
      { sessionId: SESSION, receiverId: ME, flags: STATUS_FLAG_REPLY, seenSeq: 8, deliveredSlices: 2, bytesWritten: 0, reqackId: 1, lossPpm: 0 },
    ]);
    // Answered: now it reports as it goes, like a small session's receiver.
    feedSlice(core, 2, answerAt + 1);
    expect(only(drainReceiver(core), MessageType.Status).map((m) => m.deliveredSlices)).toEqual([3]);
  });
});

describe('ReceiverCore NAK', () => {
  it('NAKs a slice missing one block 35 ms after its LAST block, and again repairWaitMs + 35 ms later', () => {
    const core = receiving();
    for (const b of [0, 1, 3]) feed(core, block(0, b), 100);
    expect(drainReceiver(core)).toEqual([]);
    expect(core.pollTimeout()).toBe(135);
    core.handleTimeout(134);
    expect(drainReceiver(core)).toEqual([]);
    core.handleTimeout(135);
    expect(only(drainReceiver(core), MessageType.Nak)).toEqual([{ sessionId: SESSION, receiverId: ME, sliceNo: 0, seenSeq: 3, need: [1], heard: [0] }]);
    expect(core.stats.naksSent).toBe(1);
    expect(core.pollTimeout()).toBe(135 + 50 + 35);
    core.handleTimeout(219);
    expect(drainReceiver(core)).toEqual([]);
    core.handleTimeout(220);
    expect(types(drainReceiver(core))).toEqual(['NAK']);
    expect(core.stats.naksSent).toBe(2);
  });

  it('a packet of a later slice makes an incomplete slice due', () => {
    const core = receiving();
    for (const b of [0, 1, 2]) feed(core, block(0, b), 100);
    expect(core.pollTimeout()).toBe(100 + 5000); // receive timeout: no NAK before the slice is due
    feed(core, block(1, 0), 110);
    expect(core.pollTimeout()).toBe(145);
    core.handleTimeout(145);
    expect(only(drainReceiver(core), MessageType.Nak)).toEqual([{ sessionId: SESSION, receiverId: ME, sliceNo: 0, seenSeq: 4, need: [1], heard: [0] }]);
  });

  it('a larger need speaks sooner: need 2 after 25 ms', () => {
    const core = receiving();
    for (const b of [0, 3]) feed(core, block(0, b), 100);
    expect(core.pollTimeout()).toBe(125);
    core.handleTimeout(125);
    expect(only(drainReceiver(core), MessageType.Nak)[0]!.need).toEqual([2]);
  });

  it("counts other receivers' feedback it hears (nothing for it, not a drop)", () => {
    const core = receiving();
    feed(core, statusBytes({ receiverId: 0x999 }), 110, rcv(5).from);
    feed(core, heartbeatBytes({ receiverId: 0x999 }), 111, rcv(5).from);
    feed(core, joinBytes({ receiverId: 0x998 }), 112, rcv(6).from);
    expect(core.stats.othersFeedback).toBe(3);
    expect(core.stats.drops).toEqual({});
    expect(core.stats.beforeAccept).toBe(0);
  });

  it('stays quiet when another receiver asked for as much, having heard as much', () => {
    const core = receiving();
    for (const b of [0, 1, 3]) feed(core, block(0, b), 100);
    feed(core, nakBytes({ receiverId: 0x999, sliceNo: 0, need: [1], heard: [0] }), 110, rcv(5).from);
    expect(core.stats.naksHeard).toBe(1);
    expect(core.stats.naksSuppressed).toBe(1);
    core.handleTimeout(135);
    expect(drainReceiver(core)).toEqual([]);
    // The repair it asked for did not come: ours goes out repairWaitMs + 35 ms after theirs.
    expect(core.pollTimeout()).toBe(110 + 50 + 35);
    core.handleTimeout(194);
    expect(drainReceiver(core)).toEqual([]);
    core.handleTimeout(195);
    expect(types(drainReceiver(core))).toEqual(['NAK']);
    expect(core.stats.naksSent).toBe(1);
  });

  it('two stripes: stays quiet when the NAKs heard ask, between them, for as much in every stripe', () => {
    // Blocks 0 and 1 lost: one in each stripe (block b is in stripe b % 2), need [1, 1].
    // Two stripes: blocks 0 and 2 in stripe 0, 1 and 3 in stripe 1.
    const core = receiving({}, { stripes: 2 });
    for (const b of [2, 3]) feed(core, block(0, b), 100);
    feed(core, nakBytes({ receiverId: 0x998, sliceNo: 0, need: [1, 0], heard: [0, 0] }), 105, rcv(5).from);
    expect(core.stats.naksSuppressed).toBe(0);
    feed(core, nakBytes({ receiverId: 0x999, sliceNo: 0, need: [0, 1], heard: [0, 0] }), 110, rcv(6).from);
    // The sender sizes each stripe's burst to the largest need asked: both NAKs together serve us.
    expect(core.stats.naksSuppressed).toBe(1);
    core.handleTimeout(125);
    expect(drainReceiver(core)).toEqual([]);
  });

  it('two stripes: NAKs that between them leave a stripe short do not silence it', () => {
    // Two stripes: blocks 0 and 2 in stripe 0, 1 and 3 in stripe 1.
    const core = receiving({}, { stripes: 2 });
    for (const b of [2, 3]) feed(core, block(0, b), 100);
    feed(core, nakBytes({ receiverId: 0x998, sliceNo: 0, need: [1, 0], heard: [0, 0] }), 105, rcv(5).from);
    feed(core, nakBytes({ receiverId: 0x999, sliceNo: 0, need: [2, 0], heard: [0, 0] }), 110, rcv(6).from);
    expect(core.stats.naksSuppressed).toBe(0);
    core.handleTimeout(125);
    expect(only(drainReceiver(core), MessageType.Nak)).toEqual([{ sessionId: SESSION, receiverId: ME, sliceNo: 0, seenSeq: 2, need: [1, 1], heard: [0, 0] }]);
  });

  it('is not silenced by a NAK with a smaller need', () => {
    const core = receiving();
    for (const b of [0, 3]) feed(core, block(0, b), 100);
    feed(core, nakBytes({ receiverId: 0x999, sliceNo: 0, need: [1], heard: [0] }), 110, rcv(5).from);
    expect(core.stats.naksSuppressed).toBe(0);
    core.handleTimeout(125);
    expect(only(drainReceiver(core), MessageType.Nak)).toEqual([{ sessionId: SESSION, receiverId: ME, sliceNo: 0, seenSeq: 2, need: [2], heard: [0] }]);
  });

  it('is not silenced by a NAK that did not hear the repair burst we heard', () => {
    const core = receiving();
    for (const b of [0, 3]) feed(core, block(0, b), 100);
    core.handleTimeout(125);
    drainReceiver(core);
    // Parity 0 lands: need 1, heard 1; the next NAK is a fresh backoff (35 ms) after it.
    feed(core, parity(0, 0), 130);
    expect(core.pollTimeout()).toBe(165);
    feed(core, nakBytes({ receiverId: 0x999, sliceNo: 0, need: [2], heard: [0] }), 140, rcv(5).from);
    expect(core.stats.naksSuppressed).toBe(0);
    core.handleTimeout(165);
    expect(only(drainReceiver(core), MessageType.Nak)).toEqual([{ sessionId: SESSION, receiverId: ME, sliceNo: 0, seenSeq: 3, need: [1], heard: [1] }]);
  });
});

describe('ReceiverCore parity repair', () => {
  it('rebuilds a lost block from Cauchy parity and delivers the original bytes', () => {
    const core = receiving();
    for (const b of [0, 1, 3]) feed(core, block(0, b), 100);
    feed(core, parity(0, 0), 140);
    expect(delivered(drainEvents(core))).toEqual([[0, Buffer.from(sliceOf(0))]]);
    expect(core.stats.parityPackets).toBe(1);
    expect(core.stats.decodedBlocks).toBe(1);
    expect(core.stats.slicesDecoded).toBe(1);
    expect(core.pollTimeout()).toBe(140 + 5000); // no NAK left to send
  });

  it('rebuilds two lost blocks from two parity symbols of different bursts', () => {
    const core = receiving();
    for (const b of [1, 3]) feed(core, block(0, b), 100);
    feed(core, parity(0, 0), 130);
    feed(core, parity(0, 5), 131);
    expect(delivered(drainEvents(core))).toEqual([[0, Buffer.from(sliceOf(0))]]);
    expect(core.stats.decodedBlocks).toBe(2);
  });

  it('rebuilds the short last block of the final slice', () => {
    const core = receiving();
    feedSlice(core, 0, 10);
    feedSlice(core, 1, 10);
    feed(core, block(2, 0), 10);
    drainEvents(core);
    feed(core, parity(2, 0), 20);
    expect(delivered(drainEvents(core))).toEqual([[2, Buffer.from(sliceOf(2))]]);
    expect(core.stats.decodedBlocks).toBe(1);
  });
});

describe('ReceiverCore ending', () => {
  it('fails with ProtocolViolation and sends LEAVE when END disagrees with HELLO', () => {
    const core = receiving();
    feed(core, endBytes(951, 3, DIGEST), 10);
    // Sent twice on purpose (receiver/core/feedback.ts `sendLeave`, from `fail`): a lost LEAVE costs the sender its retries.
    const sent = drainReceiver(core);
    expect(types(sent)).toEqual(['LEAVE', 'LEAVE']);
    expect(only(sent, MessageType.Leave)[0]).toMatchObject({ receiverId: ME, reason: Reason.ProtocolViolation });
    expect(drainEvents(core)).toEqual([failed(Reason.ProtocolViolation)]);
    expect(core.currentState).toBe('done');
  });

  /** Every slice delivered and END (950 bytes, 3 slices) heard at t=20: state verifying. */
  function complete(over: Partial<ReceiverConfig> = {}): ReceiverCore {
    const core = receiving(over);
    for (let n = 0; n < 3; n++) feedSlice(core, n, 10);
    drainReceiver(core);
    drainEvents(core);
    feed(core, endBytes(950, 3, DIGEST), 20);
    return core;
  }

  it('reports complete once END is heard with every slice delivered', () => {
    const core = complete();
    expect(drainEvents(core)).toEqual([{ kind: 'complete', totalBytes: 950, digest: DIGEST }]);
    expect(only(drainReceiver(core), MessageType.Status).map((s) => [s.flags, s.deliveredSlices, s.seenSeq])).toEqual([
      [STATUS_FLAG_COMPLETE, 3, 10],
      [STATUS_FLAG_COMPLETE | STATUS_FLAG_REPLY, 3, 10],
    ]);
    expect(core.currentState).toBe('verifying');
  });

  it('wants the data group until every slice is delivered, and no more of it from then on', () => {
    const core = receiving();
    for (let n = 0; n < 3; n++) feedSlice(core, n, 10);
    expect(core.dataWanted).toBe(true);
    feed(core, endBytes(950, 3, DIGEST), 20);
    expect(core.currentState).toBe('verifying');
    // What the data group carries now (another node's catch-up pass) is of no use to us.
    expect(core.dataWanted).toBe(false);
    core.handle({ kind: 'written', slices: 3, bytes: 950 }, 25);
    core.handle({ kind: 'verified', ok: true, digest: DIGEST, reason: Reason.None, detail: '' }, 30);
    expect(core.currentState).toBe('reporting');
    expect(core.dataWanted).toBe(false);
  });

  it('after verified, repeats REPORT every reportIntervalMs until REPORT_ACK, then is done ok', () => {
    const core = complete();
    drainReceiver(core);
    drainEvents(core);
    core.handle({ kind: 'written', slices: 3, bytes: 950 }, 25);
    core.handle({ kind: 'verified', ok: true, digest: DIGEST, reason: Reason.None, detail: '' }, 30);
    expect(only(drainReceiver(core), MessageType.Report)).toEqual([
      {
        sessionId: SESSION,
        receiverId: ME,
        outcome: Outcome.Verified,
        reason: Reason.None,
        bytesWritten: 950,
        digest: DIGEST,
        detail: '',
      },
    ]);
    expect(core.pollTimeout()).toBe(60);
    core.handleTimeout(59);
    expect(drainReceiver(core)).toEqual([]);
    core.handleTimeout(60);
    expect(types(drainReceiver(core))).toEqual(['REPORT']);
    expect(drainEvents(core)).toEqual([]);
    feed(core, reportAckBytes(ME), 70);
    expect(drainEvents(core)).toEqual([{ kind: 'done', ok: true, reason: Reason.None, detail: '' }]);
    expect(core.pollTimeout()).toBeUndefined();
    core.handleTimeout(90);
    expect(drainReceiver(core)).toEqual([]);
  });

  it('is done after reportTries REPORTs without an ack', () => {
    const core = complete({ reportTries: 3 });
    drainReceiver(core);
    drainEvents(core);
    core.handle({ kind: 'verified', ok: true, digest: DIGEST, reason: Reason.None, detail: '' }, 30);
    for (const t of [60, 90]) core.handleTimeout(t);
    expect(types(drainReceiver(core))).toEqual(['REPORT', 'REPORT', 'REPORT']);
    core.handleTimeout(119);
    expect(drainEvents(core)).toEqual([]);
    core.handleTimeout(120);
    expect(drainReceiver(core)).toEqual([]);
    expect(drainEvents(core)).toEqual([{ kind: 'done', ok: true, reason: Reason.None, detail: '' }]);
  });
});

describe('ReceiverCore destinations', () => {
  const CONTROL = { address: SENDER.address, port: 45_678 };

  it('sends JOIN, STATUS, REPORT and LEAVE to the source of the HELLO alone, and NAKs to the group', () => {
    seq = 0;
    const core = new ReceiverCore(receiverConfig(), 0);
    feed(core, helloBytes(), 1, CONTROL);
    const sent = (): [string, unknown][] => {
      const out: [string, unknown][] = [];
      for (let t = core.pollTransmit(); t !== undefined; t = core.pollTransmit()) out.push([types([decode(t.bytes)])[0]!, t.to]);
      return out;
    };
    expect(sent()).toEqual([['JOIN', CONTROL]]);
    // ACCEPT, START and DATA may come from other ports of the sender (its data socket).
    feed(core, acceptBytes(ME), 2);
    feed(core, startBytes(64), 3);
    feed(core, block(0, 0), 4);
    feed(core, block(0, 2), 4);
    feed(core, block(0, 3), 4);
    feed(core, block(1, 0), 5);
    core.handleTimeout(50);
    feed(core, reqackBytes({ reqackId: 3, needSlices: 1, needSeq: 100 }), 60);
    expect(sent()).toEqual([
      ['NAK', 'group'],
      ['STATUS', CONTROL],
    ]);
    core.handle({ kind: 'abort', reason: Reason.Interrupted, detail: 'test' }, 61);
    expect(sent()).toEqual([
      ['LEAVE', CONTROL],
      ['LEAVE', CONTROL],
    ]);
  });
});

describe('ReceiverCore giving up', () => {
  it('leaves at receiveTimeoutMs after the sender was last heard', () => {
    const core = receiving();
    expect(core.pollTimeout()).toBe(3 + 5000);
    core.handleTimeout(5002);
    expect(drainReceiver(core)).toEqual([]);
    expect(drainEvents(core)).toEqual([]);
    core.handleTimeout(5003);
    const sent = drainReceiver(core);
    expect(types(sent)).toEqual(['LEAVE', 'LEAVE']);
    expect(only(sent, MessageType.Leave)[0]).toMatchObject({ receiverId: ME, reason: Reason.ReceiveTimeout });
    expect(drainEvents(core)).toEqual([failed(Reason.ReceiveTimeout)]);
  });

  it('is done without a LEAVE when DROPped by id or all at once, and ignores a DROP for another', () => {
    const core = receiving();
    feed(core, dropBytes(0x999, Reason.NoAnswer), 10);
    expect(drainEvents(core)).toEqual([]);
    feed(core, dropBytes(ME, Reason.NoAnswer), 11);
    expect(drainEvents(core)).toEqual([failed(Reason.NoAnswer)]);
    expect(drainReceiver(core)).toEqual([]);

    const other = receiving();
    feed(other, dropBytes(0, Reason.SenderAbort), 11);
    expect(drainEvents(other)).toEqual([failed(Reason.SenderAbort)]);
    expect(drainReceiver(other)).toEqual([]);
  });
});

describe('ReceiverCore bad datagrams', () => {
  /** Block 0 of slice 0, well formed except for what `o` changes. */
  const malformed = (o: Partial<Data>): Uint8Array => {
    const payload = sliceOf(0).subarray(0, 100);
    return dataBytes({ seq: 1, sliceNo: 0, sliceBytes: 400, flags: 0, stripe: 0, blockNo: 0, payload, ...o });
  };

  it.each([
    ['too short for a header', () => new Uint8Array([0x52, 0x43, 1]), 'ERR_TRUNCATED'],
    ['bad magic', () => new Uint8Array(40), 'ERR_BAD_MAGIC'],
    ['a data block of the wrong length', () => malformed({ payload: IMAGE.subarray(0, 99) }), 'ERR_BAD_LENGTH'],
    ['a slice past the image', () => malformed({ sliceNo: 3 }), 'ERR_BAD_FIELD'],
    ['a block past the slice', () => malformed({ blockNo: 4 }), 'ERR_BAD_FIELD'],
    ['a parity index the code cannot have (k=4: 0..251)', () => malformed({ flags: DATA_FLAG_PARITY | DATA_FLAG_REPAIR, blockNo: 252 }), 'ERR_BAD_FIELD'],
    ['a parity symbol of the wrong length', () => malformed({ flags: DATA_FLAG_PARITY, payload: IMAGE.subarray(0, 50) }), 'ERR_BAD_LENGTH'],
    ['a parity symbol of a stripe the session does not have (1 stripe)', () => malformed({ flags: DATA_FLAG_PARITY, stripe: 1 }), 'ERR_BAD_FIELD'],
    ['a parity symbol of stripe 255', () => malformed({ flags: DATA_FLAG_PARITY, stripe: 255 }), 'ERR_BAD_FIELD'],
  ])('counts %s and never delivers it', (_name, make, code) => {
    const core = receiving();
    feed(core, make(), 10);
    expect(core.stats.drops).toEqual({ [code]: 1 });
    expect(core.stats.dataPackets + core.stats.parityPackets).toBe(0);
    // The slice still assembles from good blocks, byte for byte.
    for (let b = 0; b < 4; b++) feed(core, block(0, b, { seq: 10 + b }), 11);
    expect(delivered(drainEvents(core))).toEqual([[0, Buffer.from(sliceOf(0))]]);
  });
});

describe('ReceiverCore when the sender is heard but its DATA is not', () => {
  const silent = (events: ReceiverEvent[]): ReceiverEvent[] => events.filter((e) => e.kind === 'dataSilent');

  /** REQACKs every 500 ms from `from` to `to` asking about DATA up to needSeq; DATA from `data` before each, if given. */
  function rounds(core: ReceiverCore, from: number, to: number, needSeq: number, data?: (t: number) => Uint8Array): ReceiverEvent[] {
    const events: ReceiverEvent[] = [];
    for (let t = from; t <= to; t += 500) {
      if (data !== undefined) feed(core, data(t), t - 1);
      feed(core, reqackBytes({ reqackId: t, needSlices: 1, needSeq }), t);
      events.push(...drainEvents(core));
      drainReceiver(core);
    }
    return events;
  }

  it('asks the driver to join the data group again, at most every 2 s, while no DATA comes', () => {
    const core = receiving();
    // START at 3: the sender asks about DATA up to seq 100 and none of it ever came.
    const events = rounds(core, 503, 6003, 100);
    expect(silent(events)).toEqual([
      { kind: 'dataSilent', silentMs: 2000 },
      { kind: 'dataSilent', silentMs: 4000 },
      { kind: 'dataSilent', silentMs: 6000 },
    ]);
    expect(core.stats.dataRejoins).toBe(3);
    // Still receiving: joining again is all it does (the sender decides when to give up).
    expect(core.currentState).toBe('receiving');
  });

  it('stays put while DATA comes, however far behind the REQACKs say we are', () => {
    const core = receiving();
    let b = 0;
    // One DATA a second, each a duplicate of block 0 after the first: the group reaches us.
    const events = rounds(core, 503, 6003, 1000, (t) => (t % 1000 === 503 ? block(0, 0, { seq: ++b }) : block(0, 0, { seq: b })));
    expect(silent(events)).toEqual([]);
    expect(core.stats.dataRejoins).toBe(0);
  });

  it('stays put when the sender sends nothing new (it waits for another receiver)', () => {
    const core = receiving();
    feed(core, block(0, 0, { seq: 7 }), 10);
    // Six seconds of REQACKs about seq 7, which we saw: a sender held back, not a lost group.
    const events = rounds(core, 503, 6003, 7);
    expect(silent(events)).toEqual([]);
    expect(core.stats.dataRejoins).toBe(0);
  });
});
