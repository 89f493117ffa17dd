// SenderCore's slow-node policy and catch-up pass, driven by hand (sender/core.ts,
// sender/core/slow-policy.ts): HEARTBEATs give the figures, REQACK rounds (every 20 ms
// while the window is full) the moments of judgment. Geometry (test/support/cores.ts):
// 100-byte blocks, 4 a slice, 1 stripe, 4000 bytes = 10 slices of 400; retainSlices 2.

import { describe, expect, it } from 'vitest';
import { CAP_IN_ORDER, CAP_PARITY_REPAIR, MessageType } from '../../../protocol/header.js';
import { CatchUpWhy } from '../../../protocol/messages/catch-up.js';
import { DATA_FLAG_REPAIR } from '../../../protocol/messages/data.js';
import { Reason } from '../../../protocol/reasons.js';
import { DISK_HOLD_MS, MIN_SPAN_MS, SLOW_HOLD_MS } from '../../../sender/core/slow-policy.js';
import { type SenderConfig, SenderCore } from '../../../sender/core.js';
import { nodeView } from '../../../sender/node-view.js';
import { pattern } from '../../support/bytes.js';
import { drainEvents, drainSender, only, senderConfig, types } from '../../support/cores.js';
import { heartbeatBytes, joinBytes, nakBytes, rcv, statusBytes } from '../../support/datagrams.js';

const IMAGE = pattern(4000);
const from = (i: number, bytes: Uint8Array) => ({ kind: 'datagram' as const, from: rcv(i).from, bytes });

function feed(core: SenderCore, now: number): void {
  while (core.wantsSlice() && core.bytesRead < 4000) core.handle({ kind: 'slice', bytes: IMAGE.subarray(core.bytesRead, core.bytesRead + 400) }, now);
  if (core.bytesRead === 4000 && !core.wantsSlice() && core.currentPhase === 'transferring') core.handle({ kind: 'eof', digest: pattern(32, 9) }, now);
}

/** Three receivers joined at t=1 and START went out; retainSlices 2. */
function started(over: Partial<SenderConfig> = {}): SenderCore {
  const core = new SenderCore(senderConfig({ minReceivers: 3, catchUp: true, retainSlices: 2, retriesUntilDrop: 1000, ...over }), 0);
  core.handleTimeout(0);
  for (let i = 0; i < 3; i++) core.handle(from(i, joinBytes({ receiverId: rcv(i).id })), 1);
  drainSender(core, 1);
  drainEvents(core);
  return core;
}

/**
 * Heartbeats every 100 ms of each receiver's clock, from t=95 (5 ms before the REQACK
 * rounds at 2 + 20k ms look at them): receivers 0 and 1 write 400 bytes per 100 ms with
 * their sink busy 5 ms of it; receiver 2 writes 100 bytes per 100 ms, its sink busy all
 * the time ('disk'), or its sink idle and its CPU busy 95% ('cpu').
 */
function heartbeats(core: SenderCore, t: number, slowBy: 'disk' | 'cpu'): void {
  if ((t - 95) % 100 !== 0 || t < 95) return;
  const k = (t - 95) / 100;
  for (let i = 0; i < 3; i++) {
    const slow = i === 2;
    const hb = { receiverId: rcv(i).id, elapsedMs: 1000 + t, bytesWritten: k * (slow ? 100 : 400), sinkBusyMs: k * (slow && slowBy === 'disk' ? 100 : 5) };
    core.handle(from(i, heartbeatBytes(slow && slowBy === 'cpu' ? { ...hb, cpuPermille: 950 } : hb)), t);
  }
}

/** Runs 1 ms at a time until `until` holds: heartbeats, the core's timer, its transmits; receivers 0 and 1 keep up. */
function runUntil(
  core: SenderCore,
  from0: number,
  until: (sent: ReturnType<typeof drainSender>, t: number) => boolean,
  max = 3000,
  slowBy: 'disk' | 'cpu' = 'disk',
): number {
  for (let t = from0; t <= max; t++) {
    heartbeats(core, t, slowBy);
    core.handleTimeout(t);
    const sent = drainSender(core, t);
    for (const i of [0, 1]) core.handle(from(i, statusBytes({ receiverId: rcv(i).id, seenSeq: 8, deliveredSlices: 2 })), t);
    if (until(sent, t)) return t;
  }
  throw new Error('did not happen');
}

describe('SenderCore slow-node policy', () => {
  it('moves the receiver the window waits for, whose sink is saturated and still writes, slowly, DISK_HOLD_MS after its figures first said so', () => {
    const core = started();
    feed(core, 2);
    drainSender(core, 2);
    // Receivers 0 and 1 have everything sent so far; receiver 2 has seen it all but delivered nothing.
    core.handle(from(2, statusBytes({ receiverId: rcv(2).id, seenSeq: 8, deliveredSlices: 0 })), 3);
    let catchUps: ReturnType<typeof only<MessageType.CatchUp>> = [];
    const movedAt = runUntil(core, 3, (sent) => {
      catchUps = only(sent, MessageType.CatchUp);
      return catchUps.length > 0;
    });
    expect(catchUps).toEqual(Array(2).fill({ sessionId: expect.any(Number), receiverId: rcv(2).id, why: CatchUpWhy.Slow, rateKBps: 1, paceKBps: 40 }));
    // The window stalled at 2, so REQACK rounds come at 22, 42, ...; the figures span
    // MIN_SPAN_MS from the heartbeats at 495 (samples 95..495), so the round at 502 first
    // finds receiver 2 slow (1 kB/s against half of the others' 80 kB/s, its sink busy
    // throughout the latest samples, and writing), and the first round DISK_HOLD_MS later
    // moves it.
    expect(MIN_SPAN_MS).toBe(375);
    expect(DISK_HOLD_MS).toBe(250);
    expect(movedAt).toBe(762);
    expect(drainEvents(core).filter((e) => e.kind === 'movedToCatchUp')).toEqual([
      { kind: 'movedToCatchUp', receiverId: rcv(2).id, why: CatchUpWhy.Slow, rateBps: 1000, paceBps: 40_000 },
    ]);
    expect(core.receiverList().map((r) => r.catchUp)).toEqual([false, false, true]);
    expect(core.stats.movedToCatchUp).toBe(1);
    // The table, --events and --json say why and when (START was at 0).
    const views = core.receiverList().map((r) => nodeView(r, { imageBytes: 4000, announcing: false, startedAtMs: 0 }));
    expect(views.map((v) => [v.state, v.catchUp, v.catchUpAtSeconds])).toEqual([
      ['live', undefined, undefined],
      ['live', undefined, undefined],
      ['catch-up', 'slow', 0.762],
    ]);
    // Retention no longer waits for it.
    expect(core.wantsSlice()).toBe(true);
  });

  it('a receiver whose CPU alone is saturated is moved SLOW_HOLD_MS after its figures first said so', () => {
    const core = started();
    feed(core, 2);
    drainSender(core, 2);
    core.handle(from(2, statusBytes({ receiverId: rcv(2).id, seenSeq: 8, deliveredSlices: 0 })), 3);
    // Slow (about 1 kB/s over a busy share of 0.95) and behind from the round at 502; its
    // sink waits for nothing, so it is held the longer SLOW_HOLD_MS.
    const movedAt = runUntil(core, 3, (sent) => only(sent, MessageType.CatchUp).length > 0, 3000, 'cpu');
    expect(SLOW_HOLD_MS).toBe(500);
    expect(movedAt).toBe(1002);
    expect(core.receiverList().map((r) => r.catchUp)).toEqual([false, false, true]);
  });

  it('a receiver slow for less than DISK_HOLD_MS is not moved: its clock starts over when it catches up', () => {
    const core = started();
    feed(core, 2);
    drainSender(core, 2);
    // Slow and behind from the round at 502; at 700 it delivers what is held (not behind in the
    // round at 702), so the move due at 762 does not come.
    const t = runUntil(core, 3, (_sent, t) => {
      if (t === 700) core.handle(from(2, statusBytes({ receiverId: rcv(2).id, seenSeq: 8, deliveredSlices: 2 })), t);
      return t === 1200;
    });
    expect(t).toBe(1200);
    expect(core.stats.movedToCatchUp).toBe(0);
  });

  it('its NAKs before END are not answered; CATCHUP goes again, at most every endIntervalMs; after END, what it lacks is read again', () => {
    const core = started();
    feed(core, 2);
    drainSender(core, 2);
    runUntil(core, 3, (sent) => only(sent, MessageType.CatchUp).length > 0);
    expect(core.receiverList()[2]!.catchUp).toBe(true);
    const nak = (now: number, sliceNo: number) => core.handle(from(2, nakBytes({ receiverId: rcv(2).id, sliceNo, need: [4] })), now);
    nak(772, 0);
    expect(types(drainSender(core, 772))).toEqual([]); // told at 762, 10 ms ago
    nak(812, 0);
    expect(only(drainSender(core, 812), MessageType.CatchUp)).toHaveLength(2);
    expect(core.stats.catchUpNaksIgnored).toBe(2);
    // The rest of the first pass goes at the others' pace.
    let t = 820;
    while (core.currentPhase === 'transferring' && t < 3000) {
      feed(core, t);
      drainSender(core, t);
      for (const i of [0, 1])
        core.handle(from(i, statusBytes({ receiverId: rcv(i).id, seenSeq: core.stats.dataPackets, deliveredSlices: Math.floor(core.bytesRead / 400) })), t);
      t += 5;
    }
    expect(core.currentPhase).toBe('ending');
    expect(drainEvents(core).filter((e) => e.kind === 'catchUpBegan')).toEqual([{ kind: 'catchUpBegan', receiverId: rcv(2).id }]);
    // From here receiver 2 paces the flow window too, counted from here: the first pass's
    // DATA is not its to read (it may have left the data group), so its stale seenSeq (8 of
    // the DATA sent) does not close the window on its catch-up pass.
    expect(core.receiverList()[2]!.seenSeq).toBe(core.stats.dataPackets);
    drainSender(core, t);
    // Slice 0 is long freed: read again, then sent as its data blocks.
    nak(t, 0);
    expect(core.pollReload()).toBe(0);
    core.handle({ kind: 'reload', sliceNo: 0, bytes: IMAGE.subarray(0, 400) }, t);
    const resent = drainSender(core, t).filter((x) => x.to === 'data');
    expect(resent.map((x) => x.m.type === MessageType.Data && [x.m.msg.sliceNo, x.m.msg.blockNo, x.m.msg.flags & DATA_FLAG_REPAIR])).toEqual([
      [0, 0, DATA_FLAG_REPAIR],
      [0, 1, DATA_FLAG_REPAIR],
      [0, 2, DATA_FLAG_REPAIR],
      [0, 3, DATA_FLAG_REPAIR],
    ]);
    expect(core.stats.reloads).toBe(1);
  });

  it('with catchUp off, the same figures move nobody', () => {
    const core = started({ catchUp: false });
    feed(core, 2);
    drainSender(core, 2);
    runUntil(core, 3, (_sent, t) => t === 2000);
    expect(core.stats.movedToCatchUp).toBe(0);
  });
});

describe('SenderCore: a late receiver that takes the image only in order (--streaming)', () => {
  function lateJoin(over: Partial<SenderConfig>) {
    const core = new SenderCore(senderConfig({ minReceivers: 1, streaming: true, ...over }), 0);
    core.handleTimeout(0);
    core.handle(from(0, joinBytes({ receiverId: rcv(0).id })), 1);
    feed(core, 1);
    drainSender(core, 1);
    drainEvents(core);
    core.handle(from(1, joinBytes({ receiverId: rcv(1).id, caps: CAP_PARITY_REPAIR | CAP_IN_ORDER })), 5);
    return { core, sent: drainSender(core, 5) };
  }

  it('is taken into the catch-up pass at once: ACCEPT, then CATCHUP; it holds back neither window nor retention', () => {
    const { core, sent } = lateJoin({ catchUp: true });
    expect(types(sent)).toEqual(['ACCEPT', 'CATCHUP', 'CATCHUP']);
    expect(only(sent, MessageType.CatchUp)[0]).toMatchObject({ receiverId: rcv(1).id, why: CatchUpWhy.LateInOrder, rateKBps: 0, paceKBps: 0 });
    expect(drainEvents(core).map((e) => e.kind)).toEqual(['joined', 'movedToCatchUp']);
    expect(core.receiverList()[1]).toMatchObject({ catchUp: true, catchUpWhy: CatchUpWhy.LateInOrder });
    expect(core.stats.lateJoins).toBe(1);
  });

  it('is refused as late without a catch-up pass', () => {
    const { core, sent } = lateJoin({ catchUp: false });
    expect(only(sent, MessageType.Drop)).toEqual([expect.objectContaining({ receiverId: rcv(1).id, reason: Reason.LateJoin })]);
    expect(core.receiverList()).toHaveLength(1);
  });
});
