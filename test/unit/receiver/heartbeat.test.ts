// The receiver's HEARTBEAT (receiver/core/load.ts, feedback.ts): when it goes, what it
// carries, and what the receiver judges limits it. Session as in core.test.ts: 100-byte
// blocks, 4 a slice, 1 stripe, 950 bytes (slices of 400, 400, 150).

import { describe, expect, it } from 'vitest';
import { CAP_ASYNC, CAP_PARITY_REPAIR, MessageType } from '../../../protocol/header.js';
import { DATA_FLAG_FINAL_SLICE, DATA_FLAG_LAST, DATA_FLAG_REPAIR } from '../../../protocol/messages/data.js';
import { HEARTBEAT_FLAG_CATCH_UP, Limit } from '../../../protocol/messages/heartbeat.js';
import { REQACK_FLAG_QUIET } from '../../../protocol/messages/reqack.js';
import { EARLY_DIVISOR, EARLY_HEARTBEATS, earlyHeartbeats } from '../../../receiver/core/feedback.js';
import { classifyLimit, LoadMeter } from '../../../receiver/core/load.js';
import { ReceiverCore } from '../../../receiver/core.js';
import { pattern } from '../../support/bytes.js';
import { drainEvents, drainReceiver, only, receiverConfig } from '../../support/cores.js';
import { acceptBytes, dataBytes, helloBytes, reqackBytes, SENDER, startBytes } from '../../support/datagrams.js';

const ME = 0x101;
const IMAGE = pattern(950);

function feed(core: ReceiverCore, bytes: Uint8Array, now: number): void {
  core.handle({ kind: 'datagram', from: SENDER, bytes }, now);
}

function block(seq: number, sliceNo: number, blockNo: number, flags = 0): Uint8Array {
  const sliceBytes = sliceNo === 2 ? 150 : 400;
  const off = sliceNo * 400 + blockNo * 100;
  const payload = IMAGE.subarray(off, Math.min(off + 100, sliceNo * 400 + sliceBytes));
  const last = blockNo === Math.ceil(sliceBytes / 100) - 1 ? DATA_FLAG_LAST : 0;
  const fin = sliceNo === 2 ? DATA_FLAG_FINAL_SLICE : 0;
  return dataBytes({ seq, sliceNo, sliceBytes, flags: flags | last | fin, stripe: 0, blockNo, payload });
}

describe('classifyLimit', () => {
  it.each([
    ['a sink that keeps up, an idle loop: the network', { sinkBusyShare: 0.1, outputBusyShare: 0.1, cpuShare: 0.3, decompressing: true }, Limit.Network],
    ['a sink that keeps up, a saturated loop: the CPU', { sinkBusyShare: 0.2, outputBusyShare: 0.1, cpuShare: 0.95, decompressing: false }, Limit.Cpu],
    ['a saturated sink whose last stage is busy: the disk', { sinkBusyShare: 1, outputBusyShare: 0.9, cpuShare: 0.95, decompressing: true }, Limit.Disk],
    [
      'a saturated sink, an idle last stage, gunzip in front: decompression',
      { sinkBusyShare: 1, outputBusyShare: 0.2, cpuShare: 0.4, decompressing: true },
      Limit.Decompress,
    ],
    [
      'a saturated sink, an idle last stage, no decompressor, a busy loop: the CPU',
      { sinkBusyShare: 0.9, outputBusyShare: 0.1, cpuShare: 0.95, decompressing: false },
      Limit.Cpu,
    ],
    ['a saturated sink and nothing else to blame: the disk', { sinkBusyShare: 0.9, outputBusyShare: 0.1, cpuShare: 0.3, decompressing: false }, Limit.Disk],
  ])('%s', (_name, x, want) => {
    expect(classifyLimit(x)).toBe(want);
  });
});

describe('LoadMeter', () => {
  it('counts the time a delivered slice waits for the sink, and the sequence span from the first DATA read', () => {
    const m = new LoadMeter(1000);
    m.sinkWaiting(false, 1010);
    m.sinkWaiting(true, 1100);
    m.sinkWaiting(true, 1150); // still waiting: counts once
    m.sinkWaiting(false, 1300);
    m.sinkWaiting(true, 1400);
    for (const seq of [0xffff_fffe, 0xffff_ffff, 2, 1]) m.onData(seq); // wraps, one lost (seq 0 is never sent), one reordered
    m.setPipeline({ cpuPermille: 250, outputBytes: 4096, outputBusyMs: 120, decompressing: false });
    const s = m.snapshot(1500);
    expect(s).toEqual({
      elapsedMs: 500,
      sinkBusyMs: 300,
      packetsRead: 4,
      packetsSent: 5,
      cpuPermille: 250,
      outputBytes: 4096,
      outputBusyMs: 120,
      // The sink held delivery back 300 of 500 ms; the last stage was busy only 120 ms of
      // them, there is no decompressor and the loop was not saturated: the disk, still.
      limit: Limit.Disk,
    } satisfies typeof s);
  });
});

describe('ReceiverCore HEARTBEAT', () => {
  function accepted(over: Parameters<typeof receiverConfig>[0] = {}, hello = helloBytes()): ReceiverCore {
    const core = new ReceiverCore(receiverConfig({ heartbeatIntervalMs: 250, ...over }), 0);
    feed(core, hello, 10);
    drainReceiver(core);
    feed(core, acceptBytes(ME), 20);
    drainReceiver(core);
    drainEvents(core);
    return core;
  }

  it("goes heartbeatIntervalMs after our ACCEPT, a third of it early in the transfer, with the receiver's figures", () => {
    const core = accepted();
    expect(core.pollTimeout()).toBe(270);
    core.handleTimeout(269);
    expect(drainReceiver(core)).toEqual([]);
    feed(core, startBytes(64, 3), 100);
    // The transfer began: the next one comes a third of the interval on.
    expect(core.pollTimeout()).toBe(100 + 250 / EARLY_DIVISOR);
    // Slice 0 whole, slice 1 with its block 1 resent; both written by 140.
    let seq = 1;
    for (let b = 0; b < 4; b++) feed(core, block(seq++, 0, b), 110);
    seq++; // one DATA lost on the way
    for (const b of [0, 2, 3]) feed(core, block(seq++, 1, b), 120);
    feed(core, block(seq++, 1, 1, DATA_FLAG_REPAIR), 130);
    core.handle({ kind: 'written', slices: 2, bytes: 800 }, 140);
    core.handle({ kind: 'load', cpuPermille: 120, outputBytes: 800, outputBusyMs: 3, decompressing: false }, 150);
    core.handleTimeout(270);
    const hbs = only(drainReceiver(core), MessageType.Heartbeat);
    expect(hbs).toHaveLength(1);
    expect(hbs[0]).toMatchObject({
      receiverId: ME,
      flags: 0,
      elapsedMs: 260, // from the first HELLO at 10
      cpuPermille: 120,
      bytesWritten: 800,
      outputBytes: 800,
      sinkBusyMs: 30, // slice 0 waited from 110, slice 1 from 130, both written at 140
      outputBusyMs: 3,
      packetsRead: 8,
      packetsSent: 9,
      repairedBlocks: 1,
      deliveredSlices: 2,
      limit: Limit.Network,
    });
    expect(core.stats.heartbeatsSent).toBe(1);
    expect(core.stats.resentBlocks).toBe(1);
    // START said 3 receivers: the interval stays 250 (it stretches only past 4); after each
    // of the first EARLY_HEARTBEATS since the transfer began, a third of it; then the interval.
    let t = 270;
    for (let i = 0; i < EARLY_HEARTBEATS; i++) {
      expect(core.pollTimeout()).toBeCloseTo(t + 250 / EARLY_DIVISOR, 9);
      t = core.pollTimeout()!;
      core.handleTimeout(t);
    }
    expect(core.pollTimeout()).toBe(t + 250);
    expect(core.stats.heartbeatsSent).toBe(EARLY_HEARTBEATS + 1);
  });

  it.each([
    [4, 250, 6],
    [5, 312.5, 6],
    [12, 750, 4], // 48 early ones across the group
    [32, 2000, 2], // 8 × 250: the group's heartbeats a second are those of 4 receivers
    [64, 2000, 2], // at most STRETCH_CAP_MS; two early ones at least
    [3000, 3000, 2], // and at least 1 ms per receiver
  ])(
    'START counted %i receivers: heartbeats every %f ms (heartbeatIntervalMs × receivers / 4, at most 2 s, at least 1 ms each), a third of it (at least 1 ms each) for the first %i of the transfer',
    (receivers, intervalMs, early) => {
      expect(earlyHeartbeats(receivers)).toBe(early);
      const core = accepted();
      feed(core, startBytes(64, receivers), 100);
      // Early in the transfer, a third of it, but at least 1 ms per receiver (and never later
      // than the one due at 270).
      const earlyMs = Math.max(intervalMs / EARLY_DIVISOR, receivers);
      const first = Math.min(270, 100 + earlyMs);
      expect(core.pollTimeout()).toBe(first);
      // `early` short gaps, then the interval; as many as come before the receive timeout
      // (5 s after the last datagram from the sender), the earlier deadline.
      let t = first;
      for (let i = 0; i <= early; i++) {
        const gap = i < early ? earlyMs : intervalMs;
        if (t + gap >= 5100) break;
        core.handleTimeout(t);
        expect(only(drainReceiver(core), MessageType.Heartbeat)).toHaveLength(1);
        expect(core.pollTimeout()).toBeCloseTo(t + gap, 9);
        t = core.pollTimeout()!;
      }
    },
  );

  it.each([
    [250, 1000, 0], // HEARTBEATs at least as often: no STATUS heartbeat at all
    [5000, 1000, 2], // HEARTBEATs rarer than the REQACK asks: its STATUS heartbeat still goes
  ])(
    'in a quiet session not behind, HEARTBEAT every %i ms, REQACK heartbeatMs %i: STATUS heartbeats in 2.5 s: %i',
    (heartbeatIntervalMs, heartbeatMs, statuses) => {
      const core = accepted({ heartbeatIntervalMs, receiveTimeoutMs: 60_000 });
      feed(core, startBytes(64, 4), 100);
      let seq = 1;
      for (let b = 0; b < 4; b++) feed(core, block(seq++, 0, b), 110);
      core.handle({ kind: 'written', slices: 1, bytes: 400 }, 120);
      // Not behind: it read every DATA and holds the slice named.
      feed(core, reqackBytes({ reqackId: 1, needSlices: 1, needSeq: 4, flags: REQACK_FLAG_QUIET, answerWindowMs: 4, groupSize: 100, heartbeatMs }), 130);
      drainReceiver(core);
      const sent: MessageType[] = [];
      for (let t = 131; t < 2630; t++) {
        core.handleTimeout(t);
        for (const m of drainReceiver(core)) sent.push(m.type);
      }
      expect(sent.filter((m) => m === MessageType.Status)).toHaveLength(statuses);
      expect(sent.filter((m) => m === MessageType.Heartbeat).length).toBeGreaterThan(0);
    },
  );

  it('none before our ACCEPT, and none at all with --async', () => {
    const joining = new ReceiverCore(receiverConfig({ heartbeatIntervalMs: 50, joinIntervalMs: 1000 }), 0);
    feed(joining, helloBytes(), 10);
    joining.handleTimeout(500);
    expect(only(drainReceiver(joining), MessageType.Heartbeat)).toEqual([]);
    const core = new ReceiverCore(receiverConfig({ heartbeatIntervalMs: 50 }), 0);
    feed(core, helloBytes({ caps: CAP_PARITY_REPAIR | CAP_ASYNC }), 10);
    for (let t = 10; t < 1000; t += 50) core.handleTimeout(t);
    expect(drainReceiver(core)).toEqual([]);
    expect(core.stats.heartbeatsSent).toBe(0);
  });

  it('a sink that never keeps up says disk', () => {
    // 510 ms: the first heartbeat of the transfer at 100 + 510 / 3 = 270.
    const core = accepted({ maxQueuedSlices: 1, heartbeatIntervalMs: 510 });
    feed(core, startBytes(64, 2), 100);
    let seq = 1;
    for (let b = 0; b < 4; b++) feed(core, block(seq++, 0, b), 100);
    core.handle({ kind: 'load', cpuPermille: 100, outputBytes: 0, outputBusyMs: 160, decompressing: false }, 200);
    core.handleTimeout(270);
    const [hb] = only(drainReceiver(core), MessageType.Heartbeat);
    // Slice 0 waited for the sink from 100 to 270.
    expect(hb!.sinkBusyMs).toBe(170);
    expect(hb!.limit).toBe(Limit.Disk);
    expect(hb!.flags & HEARTBEAT_FLAG_CATCH_UP).toBe(0);
  });
});
