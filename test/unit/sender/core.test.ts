// SenderCore driven directly: hand-made datagrams in, explicit `now`, every transmit
// decoded. Geometry (test/support/cores.ts): 100-byte blocks, 4 blocks a slice, 1 stripe; a
// JOIN's default rcvBufBytes (1000) gives the smallest window, 16 packets.

import { describe, expect, it } from 'vitest';
import { CAP_PARITY_REPAIR, ipv4ToU32, MessageType } from '../../../protocol/header.js';
import { DATA_FLAG_FINAL_SLICE, DATA_FLAG_LAST, DATA_FLAG_PARITY, DATA_FLAG_REPAIR } from '../../../protocol/messages/data.js';
import { HEARTBEAT_FLAG_CATCH_UP } from '../../../protocol/messages/heartbeat.js';
import { HelloPhase, IMAGE_BYTES_UNKNOWN } from '../../../protocol/messages/hello.js';
import { Outcome } from '../../../protocol/messages/report.js';
import { Reason } from '../../../protocol/reasons.js';
import { type SenderConfig, SenderCore } from '../../../sender/core.js';
import { pattern } from '../../support/bytes.js';
import { senderConfig as cfg, coder, drainEvents, drainSender, only, type SentBySender, types } from '../../support/cores.js';
import { heartbeatBytes, joinBytes, leaveBytes, nakBytes, OTHER_SESSION, rcv, reportBytes, SESSION, statusBytes } from '../../support/datagrams.js';

const DIGEST = pattern(32, 9);

function from(i: number, bytes: Uint8Array) {
  return { kind: 'datagram' as const, from: rcv(i).from, bytes };
}

/** A sender that sent its first HELLO at t=0 (drained). */
function announcing(over: Partial<SenderConfig> = {}): SenderCore {
  const core = new SenderCore(cfg(over), 0);
  core.handleTimeout(0);
  drainSender(core, 0);
  return core;
}

function join(core: SenderCore, i: number, now: number, o: { rcvBufBytes?: number; sessionId?: number } = {}): void {
  core.handle(from(i, joinBytes({ receiverId: rcv(i).id, ...o })), now);
}

/** `n` receivers joined at t=1 and START went out (all drained); phase transferring. */
function started(n: number, over: Partial<SenderConfig> = {}, rcvBufBytes = 1000): SenderCore {
  const core = announcing({ minReceivers: n, ...over });
  for (let i = 0; i < n; i++) join(core, i, 1, { rcvBufBytes });
  drainSender(core, 1);
  drainEvents(core);
  expect(core.currentPhase).toBe('transferring');
  return core;
}

/** Hands `count` slices of `image` (from slice `first`), each only when the core wants it. */
function feedSlices(core: SenderCore, image: Uint8Array, first: number, count: number, now: number): void {
  const full = 400;
  for (let n = first; n < first + count; n++) {
    expect(core.wantsSlice()).toBe(true);
    core.handle({ kind: 'slice', bytes: image.subarray(n * full, Math.min(image.byteLength, (n + 1) * full)) }, now);
  }
}

/** What a driver does at `now`: drain transmits, and fire the timer while it is due. */
function driverTurn(core: SenderCore, now: number): SentBySender[] {
  const out: SentBySender[] = [];
  for (let turns = 0; turns < 100; turns++) {
    out.push(...drainSender(core, now));
    const t = core.pollTimeout();
    if (t === undefined || t > now) return out;
    core.handleTimeout(now);
  }
  throw new Error('pollTimeout() stays due after 100 turns');
}

function dataOf(sent: readonly SentBySender[]) {
  return only(sent, MessageType.Data);
}

/** The blocks of a slice as the coder sees them: full length, the short last one zero-padded. */
function stripeBlocksOf(slice: Uint8Array, blockBytes: number, stripes: number, stripe: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let b = stripe; b * blockBytes < slice.byteLength; b += stripes) {
    const block = new Uint8Array(blockBytes);
    block.set(slice.subarray(b * blockBytes, (b + 1) * blockBytes));
    out.push(block);
  }
  return out;
}

function parity(blocks: Uint8Array[], index: number): Uint8Array {
  const out = new Uint8Array(blocks[0]!.byteLength);
  coder.encodeParity(blocks, index, out);
  return out;
}

describe('SenderCore announcing', () => {
  it('sends HELLO at t=0 and again at helloIntervalMs, not at helloIntervalMs - 1', () => {
    const core = new SenderCore(cfg({ helloIntervalMs: 200 }), 0);
    expect(core.pollTimeout()).toBe(0);
    core.handleTimeout(0);
    expect(types(drainSender(core, 0))).toEqual(['HELLO']);
    expect(core.pollTimeout()).toBe(200);
    core.handleTimeout(199);
    expect(drainSender(core, 199)).toEqual([]);
    core.handleTimeout(200);
    expect(types(drainSender(core, 200))).toEqual(['HELLO']);
    expect(core.stats.hellos).toBe(2);
    expect(core.stats.controlPackets).toBe(2);
  });

  it('puts the session geometry in HELLO, on the control group', () => {
    const core = new SenderCore(cfg({ blockBytes: 1456, sliceBlocks: 64, stripes: 8, imageBytes: 123_456_789, retainSlices: 32, dataPort: 9123 }), 0);
    core.handleTimeout(0);
    const sent = drainSender(core, 0);
    expect(sent.map((s) => s.to)).toEqual(['control']);
    expect(only(sent, MessageType.Hello)).toEqual([
      {
        sessionId: SESSION,
        caps: CAP_PARITY_REPAIR,
        blockBytes: 1456,
        sliceBlocks: 64,
        stripes: 8,
        phase: HelloPhase.Announcing,
        dataPort: 9123,
        dataGroup: ipv4ToU32('239.192.67.1'),
        imageBytes: 123_456_789,
        retainSlices: 32,
        redundancy: 0,
      },
    ]);
  });

  it('announces an unknown image size as IMAGE_BYTES_UNKNOWN', () => {
    const core = new SenderCore(cfg({ imageBytes: IMAGE_BYTES_UNKNOWN }), 0);
    core.handleTimeout(0);
    expect(only(drainSender(core, 0), MessageType.Hello)[0]!.imageBytes).toBe(IMAGE_BYTES_UNKNOWN);
  });

  it('answers a JOIN with an ACCEPT for that receiverId and a joined event', () => {
    const core = announcing();
    join(core, 0, 5, { rcvBufBytes: 123_456 });
    const sent = drainSender(core, 5);
    expect(types(sent)).toEqual(['ACCEPT']);
    expect(only(sent, MessageType.Accept)).toEqual([{ sessionId: SESSION, receiverId: rcv(0).id, joinSlice: 0 }]);
    expect(drainEvents(core)).toEqual([{ kind: 'joined', receiverId: rcv(0).id, address: rcv(0).from.address, rcvBufBytes: 123_456, joinSlice: 0 }]);
    expect(core.stats.joinsReceived).toBe(1);
    expect(core.receiverList().map((r) => [r.id, r.state])).toEqual([[rcv(0).id, 'active']]);
  });

  it('re-sends ACCEPT for a repeated JOIN from the same address without adding a receiver', () => {
    const core = announcing();
    join(core, 0, 5);
    drainSender(core, 5);
    drainEvents(core);
    join(core, 0, 35);
    expect(only(drainSender(core, 35), MessageType.Accept)).toEqual([{ sessionId: SESSION, receiverId: rcv(0).id, joinSlice: 0 }]);
    expect(drainEvents(core)).toEqual([]);
    expect(core.receiverList()).toHaveLength(1);
    expect(core.stats.joinsReceived).toBe(2);
    expect(core.stats.joinsRefused).toBe(0);
  });

  it('drops a JOIN for another session and counts it as ERR_WRONG_SESSION', () => {
    const core = announcing();
    join(core, 0, 5, { sessionId: OTHER_SESSION });
    expect(drainSender(core, 5)).toEqual([]);
    expect(drainEvents(core)).toEqual([]);
    expect(core.stats.drops).toEqual({ ERR_WRONG_SESSION: 1 });
    expect(core.stats.joinsReceived).toBe(0);
    expect(core.receiverList()).toHaveLength(0);
  });

  it('refuses the (maxReceivers+1)th JOIN with DROP SessionFull', () => {
    const core = announcing({ maxReceivers: 2 });
    join(core, 0, 5);
    join(core, 1, 6);
    drainSender(core, 6);
    join(core, 2, 7);
    const sent = drainSender(core, 7);
    expect(types(sent)).toEqual(['DROP']);
    expect(only(sent, MessageType.Drop)).toEqual([{ sessionId: SESSION, receiverId: rcv(2).id, reason: Reason.SessionFull }]);
    expect(core.stats.joinsRefused).toBe(1);
    expect(core.receiverList().map((r) => r.id)).toEqual([rcv(0).id, rcv(1).id]);
    expect(drainEvents(core).map((e) => e.kind)).toEqual(['joined', 'joined']);
  });

  it('answers one receiver alone (ACCEPT, a refusal, REPORT_ACK) at the endpoint its JOIN came from; HELLO and START go to the group', () => {
    const core = announcing({ minReceivers: 1, imageBytes: 400 });
    const at = { address: rcv(0).from.address, port: 40_123 };
    core.handle({ kind: 'datagram', from: at, bytes: joinBytes({ receiverId: rcv(0).id }) }, 5);
    core.handle(from(1, joinBytes({ receiverId: rcv(1).id })), 5);
    const sent = drainSender(core, 5);
    // The first JOIN starts the transfer; the second is refused as late.
    expect(sent.map((x) => [types([x])[0], x.to])).toEqual([
      ['ACCEPT', at],
      ['START', 'control'],
      ['START', 'control'],
      ['START', 'control'],
      ['DROP', rcv(1).from],
    ]);
    expect(core.receiverList()[0]!.endpoint).toEqual(at);
    core.handle({ kind: 'slice', bytes: pattern(400) }, 6);
    core.handle({ kind: 'eof', digest: DIGEST }, 6);
    drainSender(core, 6);
    core.handle({ kind: 'datagram', from: at, bytes: reportBytes({ receiverId: rcv(0).id, bytesWritten: 400, digest: DIGEST }) }, 7);
    expect(drainSender(core, 7).map((x) => [types([x])[0], x.to])).toEqual([['REPORT_ACK', at]]);
  });
});

describe('SenderCore start conditions', () => {
  it('starts when minReceivers joined: three STARTs sized by the smallest receive buffer', () => {
    // perPacket = 100 + 24 + 768 = 892 bytes; 71 360 / 2 / 892 = 40 packets.
    const core = announcing({ minReceivers: 2 });
    join(core, 0, 3, { rcvBufBytes: 8 << 20 });
    expect(types(drainSender(core, 3))).toEqual(['ACCEPT']);
    join(core, 1, 4, { rcvBufBytes: 71_360 });
    const sent = drainSender(core, 4);
    expect(types(sent)).toEqual(['ACCEPT', 'START', 'START', 'START']);
    expect(only(sent, MessageType.Start)).toEqual(Array(3).fill({ sessionId: SESSION, receivers: 2, windowPackets: 40 }));
    expect(drainEvents(core).at(-1)).toEqual({ kind: 'started', receivers: 2, windowPackets: 40 });
    expect(core.currentPhase).toBe('transferring');
    expect(core.window).toBe(40);
  });

  it.each([
    ['clamped up to 16', 1000, 4096, 16],
    ['clamped down to windowPacketsMax', 8 << 20, 64, 64],
  ])('window %s', (_name, rcvBufBytes, windowPacketsMax, want) => {
    const core = announcing({ minReceivers: 1, windowPacketsMax });
    join(core, 0, 3, { rcvBufBytes });
    expect(only(drainSender(core, 3), MessageType.Start)[0]!.windowPackets).toBe(want);
  });

  it('counts minWaitMs from the first join', () => {
    const core = announcing({ minReceivers: 2, minWaitMs: 100 });
    join(core, 0, 10);
    join(core, 1, 50);
    drainSender(core, 50);
    expect(core.pollTimeout()).toBe(110);
    core.handleTimeout(109);
    expect(drainSender(core, 109)).toEqual([]);
    expect(core.currentPhase).toBe('announcing');
    core.handleTimeout(110);
    expect(types(drainSender(core, 110))).toEqual(['START', 'START', 'START']);
  });

  it('starts at firstJoin + maxWaitMs with fewer than minReceivers', () => {
    const core = announcing({ minReceivers: 3, maxWaitMs: 500 });
    join(core, 0, 20);
    join(core, 1, 30);
    drainSender(core, 30);
    expect(core.pollTimeout()).toBe(520);
    core.handleTimeout(519);
    expect(drainSender(core, 519)).toEqual([]);
    core.handleTimeout(520);
    const sent = drainSender(core, 520);
    expect(types(sent)).toEqual(['START', 'START', 'START']);
    expect(only(sent, MessageType.Start)[0]!.receivers).toBe(2);
  });

  it('with waitForKey, starts only on the start input', () => {
    const core = announcing({ waitForKey: true });
    join(core, 0, 10);
    drainSender(core, 10);
    core.handleTimeout(999);
    expect(drainSender(core, 999)).toEqual([]);
    expect(core.currentPhase).toBe('announcing');
    core.handle({ kind: 'start' }, 999);
    expect(types(drainSender(core, 999))).toEqual(['START', 'START', 'START']);
  });

  it('a key press before any join starts the transfer at the first join', () => {
    const core = announcing({ waitForKey: true });
    core.handle({ kind: 'start' }, 5);
    expect(core.currentPhase).toBe('announcing');
    join(core, 0, 10);
    expect(types(drainSender(core, 10))).toEqual(['ACCEPT', 'START', 'START', 'START']);
  });

  // Regression: a receiver that LEAVEs while announcing used to count toward minReceivers.
  it('a receiver that left while announcing does not count toward minReceivers', () => {
    const core = announcing({ minReceivers: 2 });
    join(core, 0, 1);
    core.handle(from(0, leaveBytes({ receiverId: rcv(0).id, reason: Reason.Interrupted })), 2);
    join(core, 1, 3);
    expect(types(drainSender(core, 3))).toEqual(['ACCEPT', 'ACCEPT']);
    expect(core.currentPhase).toBe('announcing');
  });

  it('answers a JOIN after START with DROP LateJoin, and a known receiver’s JOIN with ACCEPT', () => {
    const core = started(1);
    join(core, 1, 5);
    join(core, 0, 5);
    const sent = drainSender(core, 5);
    expect(types(sent)).toEqual(['DROP', 'ACCEPT']);
    expect(only(sent, MessageType.Drop)).toEqual([{ sessionId: SESSION, receiverId: rcv(1).id, reason: Reason.LateJoin }]);
    expect(core.stats.joinsRefused).toBe(1);
    expect(core.receiverList()).toHaveLength(1);
  });
});

describe('SenderCore first pass and flow control', () => {
  it('sends every block in order with seq 1, 2, 3... and LAST / FINAL_SLICE flags', () => {
    const image = pattern(950);
    const core = started(1, { imageBytes: 950 });
    feedSlices(core, image, 0, 3, 2);
    const sent = drainSender(core, 2);
    expect(sent.every((s) => s.to === 'data')).toBe(true);
    const F = DATA_FLAG_FINAL_SLICE;
    const rows = dataOf(sent).map((d) => [d.seq, d.sliceNo, d.blockNo, d.sliceBytes, d.flags, d.payload.byteLength]);
    expect(rows).toEqual([
      [1, 0, 0, 400, 0, 100],
      [2, 0, 1, 400, 0, 100],
      [3, 0, 2, 400, 0, 100],
      [4, 0, 3, 400, DATA_FLAG_LAST, 100],
      [5, 1, 0, 400, 0, 100],
      [6, 1, 1, 400, 0, 100],
      [7, 1, 2, 400, 0, 100],
      [8, 1, 3, 400, DATA_FLAG_LAST, 100],
      [9, 2, 0, 150, F, 100],
      [10, 2, 1, 150, F | DATA_FLAG_LAST, 50],
    ]);
    expect(Buffer.concat(dataOf(sent).map((d) => d.payload))).toEqual(Buffer.from(image));
    expect(dataOf(sent).every((d) => d.stripe === 0 && d.sessionId === SESSION)).toBe(true);
    expect(core.stats.dataPackets).toBe(10);
    expect(core.stats.dataBytes).toBe(10 * 24 + 950);
  });

  it('stops after windowPackets DATA until a STATUS moves seenSeq', () => {
    const core = started(1);
    feedSlices(core, pattern(4000), 0, 8, 2);
    core.handle(from(0, statusBytes({ receiverId: rcv(0).id, seenSeq: 0 })), 2);
    expect(dataOf(drainSender(core, 2)).map((d) => d.seq)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(core.pollTransmit(3)).toBeUndefined();
    expect(core.stats.windowStalls).toBe(1);
    core.handle(from(0, statusBytes({ receiverId: rcv(0).id, seenSeq: 4 })), 4);
    expect(dataOf(drainSender(core, 4)).map((d) => d.seq)).toEqual([17, 18, 19, 20]);
    expect(core.stats.statusReceived).toBe(2);
  });

  it('wants no slice past retainSlices until a STATUS reports one delivered', () => {
    const core = started(1, { retainSlices: 2 });
    const image = pattern(4000);
    feedSlices(core, image, 0, 2, 2);
    expect(core.wantsSlice()).toBe(false);
    expect(() => core.handle({ kind: 'slice', bytes: image.subarray(800, 1200) }, 2)).toThrow(RangeError);
    expect(dataOf(drainSender(core, 2))).toHaveLength(8);
    expect(core.wantsSlice()).toBe(false);
    core.handle(from(0, statusBytes({ receiverId: rcv(0).id, seenSeq: 8, deliveredSlices: 1 })), 3);
    expect(core.wantsSlice()).toBe(true);
    feedSlices(core, image, 2, 1, 3);
    expect(core.wantsSlice()).toBe(false);
  });

  it.each([
    [1, 0], // a small session: STATUS says how far it delivered, a HEARTBEAT does not
    [0, 1], // a quiet one (more than maxReportingReceivers): the HEARTBEAT stands for its STATUS heartbeat
  ])('with maxReportingReceivers %i, a HEARTBEAT saying 1 slice delivered leaves the receiver at %i slices', (maxReportingReceivers, want) => {
    const core = started(1, { maxReportingReceivers });
    feedSlices(core, pattern(4000), 0, 2, 2);
    drainSender(core, 2);
    core.handle(from(0, heartbeatBytes({ receiverId: rcv(0).id, deliveredSlices: 1 })), 3);
    expect(core.receiverList()[0]!.deliveredSlices).toBe(want);
    // Never more than were sent, and not from the catch-up pass (it counts that pass's).
    core.handle(from(0, heartbeatBytes({ receiverId: rcv(0).id, deliveredSlices: 3 })), 4);
    core.handle(from(0, heartbeatBytes({ receiverId: rcv(0).id, deliveredSlices: 2, flags: HEARTBEAT_FLAG_CATCH_UP })), 5);
    expect(core.receiverList()[0]!.deliveredSlices).toBe(want);
  });

  it('a slice asked for while the last receiver leaves is dropped and counted once the session is done', () => {
    // The driver reads while the core runs on: the read began on a yes, and the receiver's
    // LEAVE ended the session before the bytes came back.
    const core = started(1);
    const image = pattern(4000);
    feedSlices(core, image, 0, 1, 2);
    expect(core.wantsSlice()).toBe(true);
    core.handle(from(0, leaveBytes({ receiverId: rcv(0).id, reason: Reason.PipeFailed })), 3);
    expect(core.currentPhase).toBe('done');
    expect(core.wantsSlice()).toBe(false);
    core.handle({ kind: 'slice', bytes: image.subarray(400, 800) }, 4);
    expect(core.stats.slicesAfterDone).toBe(1);
    expect(core.bytesRead).toBe(400);
    expect(core.succeeded).toBe(false);
  });
});

describe('SenderCore repairs', () => {
  /** One receiver; slice 0 (not the image's last) handed and sent in full, seq 1..4. */
  function sentSlice0(over: Partial<SenderConfig> = {}): { core: SenderCore; slice: Uint8Array } {
    const core = started(1, over);
    const slice = pattern(4000).subarray(0, 400);
    core.handle({ kind: 'slice', bytes: slice }, 2);
    expect(dataOf(drainSender(core, 2))).toHaveLength(4);
    return { core, slice };
  }

  function nak(core: SenderCore, now: number, sliceNo: number, need: number[], heard: number[]): void {
    core.handle(from(0, nakBytes({ receiverId: rcv(0).id, sliceNo, need, heard })), now);
  }

  it('encodes a burst in one pass over the stripe (encodeParities), the same bytes as one symbol at a time', () => {
    const calls: string[] = [];
    const counting = {
      name: 'counting',
      maxParity: (k: number) => coder.maxParity(k),
      encodeParity: (data: readonly Uint8Array[], i: number, out: Uint8Array) => {
        calls.push(`one ${i}`);
        coder.encodeParity(data, i, out);
      },
      encodeParities: (data: readonly Uint8Array[], is: readonly number[], outs: readonly Uint8Array[]) => {
        calls.push(`many ${is.join(',')}`);
        coder.encodeParities(data, is, outs);
      },
      decode: coder.decode.bind(coder),
    };
    const { core, slice } = sentSlice0({ coder: counting });
    const blocks = stripeBlocksOf(slice, 100, 1, 0);
    nak(core, 10, 0, [3], [0]);
    const burst = dataOf(drainSender(core, 10));
    expect(burst.map((d) => d.blockNo)).toEqual([0, 1, 2]);
    expect(burst.map((d) => Buffer.from(d.payload))).toEqual([0, 1, 2].map((i) => Buffer.from(parity(blocks, i))));
    expect(calls).toEqual(['many 0,1,2']);
    // Every symbol is its own memory.
    expect(new Set(burst.map((d) => d.payload.buffer)).size).toBe(3);
  });

  it('proactive parity (--fec): the symbols of a stripe in one pass, sent interleaved over the stripes', () => {
    const calls: string[] = [];
    const counting = {
      name: 'counting',
      maxParity: (k: number) => coder.maxParity(k),
      encodeParity: (data: readonly Uint8Array[], i: number, out: Uint8Array) => {
        calls.push(`one ${i}`);
        coder.encodeParity(data, i, out);
      },
      encodeParities: (data: readonly Uint8Array[], is: readonly number[], outs: readonly Uint8Array[]) => {
        calls.push(`many ${is.join(',')}`);
        coder.encodeParities(data, is, outs);
      },
      decode: coder.decode.bind(coder),
    };
    const core = started(1, { coder: counting, stripes: 2, redundancy: 3 });
    const slice = pattern(4000).subarray(0, 400);
    core.handle({ kind: 'slice', bytes: slice }, 2);
    const sent = dataOf(drainSender(core, 2));
    const par = sent.filter((d) => (d.flags & DATA_FLAG_PARITY) !== 0);
    expect(par.map((d) => [d.stripe, d.blockNo])).toEqual([
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
      [0, 2],
      [1, 2],
    ]);
    for (const d of par) expect(Buffer.from(d.payload)).toEqual(Buffer.from(parity(stripeBlocksOf(slice, 100, 2, d.stripe), d.blockNo)));
    expect(calls).toEqual(['many 0,1,2', 'many 0,1,2']);
  });

  it('answers need [2] with parity 0 and 1, tops up with one more, then starts a new burst', () => {
    const { core, slice } = sentSlice0();
    const blocks = stripeBlocksOf(slice, 100, 1, 0);

    nak(core, 10, 0, [2], [0]);
    const first = dataOf(drainSender(core, 10));
    expect(first.map((d) => [d.seq, d.sliceNo, d.stripe, d.blockNo, d.flags, d.sliceBytes])).toEqual([
      [5, 0, 0, 0, DATA_FLAG_PARITY | DATA_FLAG_REPAIR, 400],
      [6, 0, 0, 1, DATA_FLAG_PARITY | DATA_FLAG_REPAIR, 400],
    ]);
    expect(first.map((d) => Buffer.from(d.payload))).toEqual([0, 1].map((i) => Buffer.from(parity(blocks, i))));

    // Within nakHoldMs (10 + 12) and not having heard the burst: only the difference.
    nak(core, 22, 0, [3], [0]);
    const topUp = dataOf(drainSender(core, 22));
    expect(topUp.map((d) => d.blockNo)).toEqual([2]);
    expect(Buffer.from(topUp[0]!.payload)).toEqual(Buffer.from(parity(blocks, 2)));

    // Heard that burst (parity 0..2): a new burst at once, even inside the hold.
    nak(core, 23, 0, [1], [3]);
    const next = dataOf(drainSender(core, 23));
    expect(next.map((d) => [d.seq, d.blockNo])).toEqual([[8, 3]]);
    expect(Buffer.from(next[0]!.payload)).toEqual(Buffer.from(parity(blocks, 3)));

    expect(core.stats.naksReceived).toBe(3);
    expect(core.stats.naksIgnored).toBe(0);
    expect(core.stats.repairPackets).toBe(4);
  });

  it('a NAK that did not hear the burst, later than nakHoldMs, starts a new full burst', () => {
    const { core } = sentSlice0();
    nak(core, 10, 0, [2], [0]);
    drainSender(core, 10);
    nak(core, 23, 0, [3], [0]);
    expect(dataOf(drainSender(core, 23)).map((d) => d.blockNo)).toEqual([2, 3, 4]);
  });

  it('ignores a NAK for a slice not yet sent in full, or never given', () => {
    const core = started(1);
    core.handle({ kind: 'slice', bytes: pattern(4000).subarray(0, 400) }, 2);
    expect(core.pollTransmit(2)).toBeDefined();
    expect(core.pollTransmit(2)).toBeDefined();
    nak(core, 3, 0, [1], [0]);
    nak(core, 3, 5, [1], [0]);
    expect(core.stats.naksReceived).toBe(2);
    expect(core.stats.naksIgnored).toBe(2);
    const rest = dataOf(drainSender(core, 3));
    expect(rest.map((d) => [d.blockNo, d.flags])).toEqual([
      [2, 0],
      [3, DATA_FLAG_LAST],
    ]);
    expect(core.stats.repairPackets).toBe(0);
  });

  it("answers a NAK's stripes in turn, as the first pass sends them, so that a burst of loss in the answer costs each stripe a little", () => {
    // 1,000 bytes, 2 stripes of 5 blocks; the NAK asks 3 of stripe 0 and 2 of stripe 1.
    const core = started(1, { stripes: 2, sliceBlocks: 10 });
    const slice = pattern(4000).subarray(0, 1000);
    core.handle({ kind: 'slice', bytes: slice }, 2);
    drainSender(core, 2);
    nak(core, 5, 0, [3, 2], [0, 0]);
    const sent = dataOf(drainSender(core, 5));
    expect(sent.map((d) => [d.stripe, d.blockNo])).toEqual([
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
      [0, 2],
    ]);
    for (const d of sent) expect(Buffer.from(d.payload)).toEqual(Buffer.from(parity(stripeBlocksOf(slice, 100, 2, d.stripe), d.blockNo)));
  });

  it('codes parity over the NAKed stripe only, with the short last block zero-padded', () => {
    // 350 bytes, 2 stripes: stripe 0 = blocks 0, 2; stripe 1 = blocks 1, 3 (50 bytes).
    const core = started(1, { stripes: 2, imageBytes: 350 });
    const slice = pattern(350, 3);
    core.handle({ kind: 'slice', bytes: slice }, 2);
    drainSender(core, 2);
    nak(core, 5, 0, [0, 1], [0, 0]);
    const sent = dataOf(drainSender(core, 5));
    expect(sent.map((d) => [d.stripe, d.blockNo, d.flags])).toEqual([[1, 0, DATA_FLAG_PARITY | DATA_FLAG_REPAIR | DATA_FLAG_FINAL_SLICE]]);
    expect(Buffer.from(sent[0]!.payload)).toEqual(Buffer.from(parity(stripeBlocksOf(slice, 100, 2, 1), 0)));
  });
});

describe('SenderCore REQACK rounds and drops', () => {
  /**
   * Two receivers, 8 slices handed and the 16-packet window sent at t=2 (stalled there);
   * receiver 0 then reports everything (seenSeq 16, 4 slices), receiver 1 stays silent.
   */
  function stalled(): SenderCore {
    const core = started(2);
    feedSlices(core, pattern(4000), 0, 8, 2);
    expect(dataOf(drainSender(core, 2))).toHaveLength(16);
    expect(core.stats.windowStalls).toBe(1);
    core.handle(from(0, statusBytes({ receiverId: rcv(0).id, seenSeq: 16, deliveredSlices: 4 })), 5);
    expect(drainSender(core, 5)).toEqual([]);
    return core;
  }

  const retriesOf = (core: SenderCore, i: number) => core.receiverList().find((r) => r.id === rcv(i).id)!.retries;

  it('sends REQACK reqackIntervalMs after the stall, then every reqackIntervalMs', () => {
    const core = stalled();
    expect(core.pollTimeout()).toBe(22);
    core.handleTimeout(21);
    expect(drainSender(core, 21)).toEqual([]);
    core.handleTimeout(22);
    const first = drainSender(core, 22);
    expect(types(first)).toEqual(['REQACK']);
    expect(only(first, MessageType.Reqack)).toEqual([
      { sessionId: SESSION, reqackId: 1, needSlices: 1, needSeq: 16, flags: 0, answerWindowMs: 0, groupSize: 2, heartbeatMs: 0 },
    ]);
    expect(core.pollTimeout()).toBe(42);
    core.handleTimeout(41);
    expect(drainSender(core, 41)).toEqual([]);
    core.handleTimeout(42);
    expect(only(drainSender(core, 42), MessageType.Reqack).map((r) => r.reqackId)).toEqual([2]);
    expect(core.stats.reqacks).toBe(2);
  });

  it('drops a receiver that leaves retriesUntilDrop + 1 REQACKs unanswered, and the window opens', () => {
    const core = stalled();
    // Round 1 (t=22) counts the join as progress; REQACKs 1, 2, 3 then go unanswered.
    for (const [t, retries] of [
      [22, 0],
      [42, 1],
      [62, 2],
    ]) {
      core.handleTimeout(t!);
      expect(types(drainSender(core, t!))).toEqual(['REQACK']);
      expect(retriesOf(core, 1)).toBe(retries);
      expect(retriesOf(core, 0)).toBe(0);
    }
    drainEvents(core);
    core.handleTimeout(82);
    const sent = drainSender(core, 82);
    expect(only(sent, MessageType.Drop)).toEqual([{ sessionId: SESSION, receiverId: rcv(1).id, reason: Reason.NoAnswer }]);
    expect(drainEvents(core)).toEqual([{ kind: 'dropped', receiverId: rcv(1).id, reason: Reason.NoAnswer, detail: 'no answer after 2 retries' }]);
    expect(core.receiverList().map((r) => r.state)).toEqual(['active', 'dropped']);
    // Receiver 0 has seen seq 16: the window runs to 32, and its 4 slices were freed.
    expect(dataOf(sent).map((d) => d.seq)).toEqual(Array.from({ length: 16 }, (_, i) => 17 + i));
    expect(core.wantsSlice()).toBe(true);
  });

  it('resets the retries of a receiver that reports progress between rounds', () => {
    const core = stalled();
    for (const t of [22, 42, 62]) core.handleTimeout(t);
    expect(retriesOf(core, 1)).toBe(2);
    core.handle(from(1, statusBytes({ receiverId: rcv(1).id, seenSeq: 4, deliveredSlices: 1 })), 70);
    expect(retriesOf(core, 1)).toBe(0);
    expect(dataOf(drainSender(core, 70)).map((d) => d.seq)).toEqual([17, 18, 19, 20]);
    core.handle(from(0, statusBytes({ receiverId: rcv(0).id, seenSeq: 20, deliveredSlices: 5 })), 71);
    // t=82 is where it would have been dropped; now it takes four more silent rounds.
    for (const [t, retries] of [
      [82, 0],
      [102, 1],
      [122, 2],
    ]) {
      core.handleTimeout(t!);
      const sent = drainSender(core, t!);
      expect(types(sent)).toEqual(['REQACK']);
      expect(only(sent, MessageType.Reqack)[0]!.needSeq).toBe(20);
      expect(retriesOf(core, 1)).toBe(retries);
    }
    core.handleTimeout(142);
    expect(only(drainSender(core, 142), MessageType.Drop).map((d) => d.receiverId)).toEqual([rcv(1).id]);
  });
});

describe('SenderCore ending', () => {
  /** `n` receivers; the one-slice image (400 bytes) handed, eof given, all 4 DATA sent at t=2. */
  function firstPassDone(n: number): SenderCore {
    const core = started(n, { imageBytes: 400 });
    core.handle({ kind: 'slice', bytes: pattern(400) }, 2);
    core.handle({ kind: 'eof', digest: DIGEST }, 2);
    expect(core.wantsSlice()).toBe(false);
    const data = dataOf(drainSender(core, 2));
    expect(data.map((d) => d.flags)).toEqual([DATA_FLAG_FINAL_SLICE, DATA_FLAG_FINAL_SLICE, DATA_FLAG_FINAL_SLICE, DATA_FLAG_FINAL_SLICE | DATA_FLAG_LAST]);
    drainEvents(core);
    return core;
  }

  function ending(n: number): SenderCore {
    const core = firstPassDone(n);
    core.handleTimeout(2);
    drainSender(core, 2);
    drainEvents(core);
    expect(core.currentPhase).toBe('ending');
    return core;
  }

  it('sends END with totalBytes, totalSlices and digest once the first pass is over', () => {
    const core = started(1, { imageBytes: 400 });
    core.handle({ kind: 'slice', bytes: pattern(400) }, 2);
    core.handle({ kind: 'eof', digest: DIGEST }, 2);
    drainEvents(core);
    const sent = drainSender(core, 2);
    expect(types(sent)).toEqual(['DATA', 'DATA', 'DATA', 'DATA', 'END']);
    expect(only(sent, MessageType.End)).toEqual([{ sessionId: SESSION, totalBytes: 400, totalSlices: 1, digest: DIGEST }]);
    expect(drainEvents(core)).toEqual([{ kind: 'ending', totalBytes: 400, totalSlices: 1 }]);
    expect(core.stats.ends).toBe(1);
  });

  // Regression: the first pass ends inside pollTransmit; END used to wait for the next
  // HELLO (1 s) or an incoming datagram.
  it('sends END in the same driver turn as the last first-pass DATA', () => {
    const core = started(1, { imageBytes: 400 });
    core.handle({ kind: 'slice', bytes: pattern(400) }, 2);
    core.handle({ kind: 'eof', digest: DIGEST }, 2);
    expect(types(driverTurn(core, 2))).toEqual(['DATA', 'DATA', 'DATA', 'DATA', 'END']);
  });

  it('repeats END every endIntervalMs', () => {
    const core = ending(1);
    expect(core.pollTimeout()).toBe(52);
    core.handleTimeout(51);
    expect(drainSender(core, 51)).toEqual([]);
    core.handleTimeout(52);
    expect(types(drainSender(core, 52))).toEqual(['END']);
    expect(core.stats.ends).toBe(2);
  });

  it('acknowledges a verified REPORT and is done, ok, when every receiver is resolved', () => {
    const core = ending(2);
    core.handle(from(0, reportBytes({ receiverId: rcv(0).id, bytesWritten: 400, digest: DIGEST })), 10);
    expect(only(drainSender(core, 10), MessageType.ReportAck)).toEqual([{ sessionId: SESSION, receiverId: rcv(0).id }]);
    expect(drainEvents(core)).toEqual([{ kind: 'reported', receiverId: rcv(0).id, ok: true, detail: '' }]);
    expect(core.receiverList().map((r) => r.state)).toEqual(['verified', 'active']);
    expect(core.currentPhase).toBe('ending');

    core.handle(from(1, reportBytes({ receiverId: rcv(1).id, bytesWritten: 400, digest: DIGEST })), 11);
    expect(types(drainSender(core, 11))).toEqual(['REPORT_ACK']);
    expect(drainEvents(core)).toEqual([
      { kind: 'reported', receiverId: rcv(1).id, ok: true, detail: '' },
      { kind: 'done', ok: true },
    ]);
    expect(core.currentPhase).toBe('done');
    expect(core.succeeded).toBe(true);
    expect(core.pollTimeout()).toBeUndefined();
  });

  it.each([
    ['a failed REPORT', Outcome.Failed, Reason.DigestMismatch, 400, 'digest mismatch', Reason.DigestMismatch],
    ['a verified REPORT of the wrong size', Outcome.Verified, Reason.None, 399, '', Reason.SizeMismatch],
  ])('%s ends the session not ok', (_name, outcome, reason, bytesWritten, detail, want) => {
    const core = ending(1);
    core.handle(from(0, reportBytes({ receiverId: rcv(0).id, outcome, reason, bytesWritten, detail })), 10);
    expect(types(drainSender(core, 10))).toEqual(['REPORT_ACK']);
    const events = drainEvents(core);
    expect(events.map((e) => e.kind)).toEqual(['reported', 'done']);
    expect(events[0]).toMatchObject({ receiverId: rcv(0).id, ok: false });
    expect(events[1]).toEqual({ kind: 'done', ok: false });
    expect(core.receiverList()[0]).toMatchObject({ state: 'failed', reason: want });
  });

  it('drops a receiver silent through retriesUntilDrop + 1 END rounds', () => {
    const core = ending(1);
    for (const t of [52, 102, 152]) {
      core.handleTimeout(t);
      expect(types(drainSender(core, t))).toEqual(['END']);
    }
    core.handleTimeout(202);
    expect(only(drainSender(core, 202), MessageType.Drop)).toEqual([{ sessionId: SESSION, receiverId: rcv(0).id, reason: Reason.NoAnswer }]);
    expect(drainEvents(core).map((e) => e.kind)).toEqual(['dropped', 'done']);
    expect(core.succeeded).toBe(false);
  });

  it('marks a receiver that sends LEAVE as left', () => {
    const core = started(1);
    core.handle(from(0, leaveBytes({ receiverId: rcv(0).id, reason: Reason.Interrupted, detail: 'SIGINT' })), 5);
    expect(drainEvents(core)).toEqual([
      { kind: 'left', receiverId: rcv(0).id, reason: Reason.Interrupted, detail: 'SIGINT' },
      { kind: 'done', ok: false },
    ]);
    expect(core.receiverList()[0]).toMatchObject({ state: 'left', reason: Reason.Interrupted });
  });

  it('on abort, sends three DROP (all receivers, SenderAbort) and is done, not ok', () => {
    const core = started(2);
    core.handle({ kind: 'abort', detail: 'SIGTERM' }, 5);
    const sent = drainSender(core, 5);
    expect(only(sent, MessageType.Drop)).toEqual(Array(3).fill({ sessionId: SESSION, receiverId: 0, reason: Reason.SenderAbort }));
    expect(types(sent)).toEqual(['DROP', 'DROP', 'DROP']);
    expect(drainEvents(core)).toEqual([{ kind: 'done', ok: false }]);
    expect(core.receiverList().map((r) => [r.state, r.reason])).toEqual([
      ['failed', Reason.SenderAbort],
      ['failed', Reason.SenderAbort],
    ]);
    expect(core.pollTimeout()).toBeUndefined();
  });
});

describe('SenderCore pacing', () => {
  it('spends the 64 KiB bucket, then waits exactly for the refill of one packet', () => {
    // 8000 bit/s = 1 byte/ms; a packet costs 1000 + 24 + 28 = 1052 bytes; 65 536 / 1052 = 62.
    const core = started(1, { blockBytes: 1000, sliceBlocks: 16, imageBytes: 160_000, maxBitrateBps: 8000 }, 8 << 20);
    const image = pattern(160_000);
    for (let n = 0; n < 5; n++) core.handle({ kind: 'slice', bytes: image.subarray(n * 16_000, (n + 1) * 16_000) }, 10);
    expect(dataOf(drainSender(core, 10))).toHaveLength(62);
    expect(core.stats.paceWaits).toBe(1);
    // 65 536 - 62 * 1052 = 312 tokens left; 740 more take 740 ms.
    expect(core.pollTimeout()).toBe(750);
    expect(core.pollTransmit(749)).toBeUndefined();
    const t = core.pollTransmit(750);
    expect(t?.to).toBe('data');
    expect(core.pollTransmit(750)).toBeUndefined();
    expect(core.stats.dataPackets).toBe(63);
    expect(core.stats.paceWaits).toBe(3);
  });

  it('counts the --key-file trailer: each packet costs 28 bytes more', () => {
    // A packet costs 1000 + 24 + 28 (seal) + 28 = 1080 bytes; 65 536 / 1080 = 60, 736 left.
    const core = started(1, { blockBytes: 1000, sliceBlocks: 16, imageBytes: 160_000, maxBitrateBps: 8000, sealBytes: 28 }, 8 << 20);
    const image = pattern(160_000);
    for (let n = 0; n < 5; n++) core.handle({ kind: 'slice', bytes: image.subarray(n * 16_000, (n + 1) * 16_000) }, 10);
    expect(dataOf(drainSender(core, 10))).toHaveLength(60);
    // 1080 - 736 = 344 more tokens take 344 ms.
    expect(core.pollTimeout()).toBe(354);
    expect(core.pollTransmit(353)).toBeUndefined();
    expect(core.pollTransmit(354)?.to).toBe('data');
  });
});
