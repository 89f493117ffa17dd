// SenderCore with --streaming: receivers that join after START (sender/core/admission.ts,
// "Late receivers"). Geometry (test/support/cores.ts): 100-byte blocks, 4 blocks a slice, 1 stripe
// (k = 4), 4000 bytes = 10 slices of 400, retainSlices 8. A JOIN's default rcvBufBytes
// (1000) gives the smallest window, 16 packets. Receiver 0 joins while announcing,
// receiver 1 (and 2) late.

import { describe, expect, it } from 'vitest';
import { CAP_PARITY_REPAIR, CAP_STREAMING, MessageType } from '../../../protocol/header.js';
import { DATA_FLAG_PARITY, DATA_FLAG_REPAIR } from '../../../protocol/messages/data.js';
import { HelloPhase } from '../../../protocol/messages/hello.js';
import { STATUS_FLAG_COMPLETE } from '../../../protocol/messages/status.js';
import { Reason } from '../../../protocol/reasons.js';
import { type SenderConfig, SenderCore, type Transmit } from '../../../sender/core.js';
import { concat, pattern } from '../../support/bytes.js';
import { senderConfig as cfg, decode, drainEvents, drainSender, only, type SentBySender, types } from '../../support/cores.js';
import { joinBytes, nakBytes, rcv, SESSION, statusBytes } from '../../support/datagrams.js';

const SLICE = 400;

function from(i: number, bytes: Uint8Array) {
  return { kind: 'datagram' as const, from: rcv(i).from, bytes };
}

function join(core: SenderCore, i: number, now: number): void {
  core.handle(from(i, joinBytes({ receiverId: rcv(i).id })), now);
}

function status(core: SenderCore, i: number, now: number, seenSeq: number, deliveredSlices: number): void {
  core.handle(from(i, statusBytes({ receiverId: rcv(i).id, seenSeq, deliveredSlices })), now);
}

function nak(core: SenderCore, i: number, now: number, sliceNo: number, need = 4, heard = 0): void {
  core.handle(from(i, nakBytes({ receiverId: rcv(i).id, sliceNo, need: [need], heard: [heard] })), now);
}

/** Receiver 0 joined at t=1 and START went out (drained, HELLO at t=0 too); phase transferring. */
function started(over: Partial<SenderConfig> = {}): SenderCore {
  const core = new SenderCore(cfg({ minReceivers: 1, streaming: true, ...over }), 0);
  core.handleTimeout(0);
  join(core, 0, 1);
  expect(types(drainSender(core, 1))).toEqual(['HELLO', 'ACCEPT', 'START', 'START', 'START']);
  drainEvents(core);
  expect(core.currentPhase).toBe('transferring');
  return core;
}

function feedWanted(core: SenderCore, image: Uint8Array, now: number): void {
  while (core.wantsSlice()) {
    const n = core.bytesRead / SLICE;
    if (n * SLICE >= image.byteLength) return;
    core.handle({ kind: 'slice', bytes: image.subarray(n * SLICE, (n + 1) * SLICE) }, now);
  }
}

/** Exactly `n` DATA, pulled one transmit at a time so the rest stays queued. */
function takeData(core: SenderCore, n: number, now: number): Transmit[] {
  const out: Transmit[] = [];
  for (let i = 0; i < n; i++) {
    const t = core.pollTransmit(now);
    expect(t, `DATA #${i + 1} of ${n}`).toBeDefined();
    expect(t!.to).toBe('data');
    out.push(t!);
  }
  return out;
}

function dataOf(sent: readonly SentBySender[]) {
  return only(sent, MessageType.Data);
}

/**
 * Receiver 0 joined normally; 8 slices handed; 6 DATA sent (slice 0 whole, slice 1 half:
 * begun), then receiver 1 joins late at t=5. The ACCEPT and 'joined' are drained.
 */
function lateAt2(): { core: SenderCore; image: Uint8Array } {
  const core = started();
  const image = pattern(4000);
  feedWanted(core, image, 2);
  takeData(core, 6, 2);
  join(core, 1, 5);
  const sent = drainSender(core, 5);
  expect(types(sent).slice(0, 1)).toEqual(['ACCEPT']);
  expect(only(sent, MessageType.Accept)).toEqual([{ sessionId: SESSION, receiverId: rcv(1).id, joinSlice: 2 }]);
  drainEvents(core);
  return { core, image };
}

/**
 * lateAt2, then all 32 DATA of slices 0..7 sent and both receivers report slices 0..2
 * delivered: slices 0..2 are freed (baseSlice 3).
 */
function headFreed(): { core: SenderCore; image: Uint8Array } {
  const { core, image } = lateAt2();
  status(core, 0, 6, 16, 0);
  status(core, 1, 6, 16, 2);
  expect(dataOf(drainSender(core, 6)).map((d) => d.seq)).toEqual(Array.from({ length: 16 }, (_, i) => 17 + i));
  status(core, 0, 7, 32, 3);
  status(core, 1, 7, 32, 3);
  expect(drainSender(core, 7)).toEqual([]);
  expect(core.tableSizes.slices).toBe(5); // 3..7
  expect(core.wantsSlice()).toBe(true);
  return { core, image };
}

describe('SenderCore --streaming: a JOIN after START', () => {
  it('takes it with joinSlice = the first slice not begun, and the late receiver holds nothing back', () => {
    const core = started();
    const image = pattern(4000);
    feedWanted(core, image, 2);
    // Slice 0 whole and two blocks of slice 1: slice 1 has begun, slice 2 has not.
    takeData(core, 6, 2);
    status(core, 0, 3, 6, 0); // receiver 0 has seen all 6: the window runs to 22
    join(core, 1, 5);
    const sent = drainSender(core, 5);
    expect(types(sent).slice(0, 1)).toEqual(['ACCEPT']);
    expect(only(sent, MessageType.Accept)).toEqual([{ sessionId: SESSION, receiverId: rcv(1).id, joinSlice: 2 }]);
    expect(only(sent, MessageType.Drop)).toEqual([]);
    expect(drainEvents(core)).toEqual([{ kind: 'joined', receiverId: rcv(1).id, address: rcv(1).from.address, rcvBufBytes: 1000, joinSlice: 2 }]);
    expect(core.stats.lateJoins).toBe(1);
    expect(core.stats.joinsRefused).toBe(0);
    expect(core.receiverList().find((r) => r.id === rcv(1).id)).toMatchObject({
      state: 'active',
      joinSlice: 2,
      seenSeq: 6,
      deliveredSlices: 2,
    });
    // The ACCEPT first, then the first pass goes on to the end of receiver 0's window.
    // Had the late receiver been counted from seq 0, it would stop at 16.
    expect(dataOf(sent).map((d) => d.seq)).toEqual(Array.from({ length: 16 }, (_, i) => 7 + i));
    // From here it is a receiver like any other: its STATUS moves the window too.
    status(core, 0, 6, 22, 0);
    expect(drainSender(core, 6)).toEqual([]);
    status(core, 1, 7, 22, 2);
    expect(dataOf(drainSender(core, 7)).map((d) => d.seq)).toEqual([23, 24, 25, 26, 27, 28, 29, 30, 31, 32]);
  });

  it('a JOIN before any slice was sent gets joinSlice 0; one after a whole slice gets the next', () => {
    const core = started();
    join(core, 1, 2);
    const first = only(drainSender(core, 2), MessageType.Accept);
    feedWanted(core, pattern(4000), 3);
    takeData(core, 4, 3); // slice 0 whole, slice 1 not begun
    join(core, 2, 4);
    const second = only(drainSender(core, 4), MessageType.Accept);
    expect([...first, ...second].map((a) => [a.receiverId, a.joinSlice])).toEqual([
      [rcv(1).id, 0],
      [rcv(2).id, 1],
    ]);
    expect(core.stats.lateJoins).toBe(2);
  });

  it('repeats a lost ACCEPT with the same joinSlice', () => {
    const { core } = lateAt2();
    drainSender(core, 5);
    join(core, 1, 9);
    expect(only(drainSender(core, 9), MessageType.Accept)).toEqual([{ sessionId: SESSION, receiverId: rcv(1).id, joinSlice: 2 }]);
    expect(core.stats.lateJoins).toBe(1);
    expect(drainEvents(core)).toEqual([]);
  });

  it.each([
    [false, CAP_PARITY_REPAIR],
    [true, CAP_PARITY_REPAIR | CAP_STREAMING],
  ])('streaming %s: HELLO caps %i while announcing and transferring', (streaming, caps) => {
    const core = new SenderCore(cfg({ minReceivers: 1, streaming }), 0);
    core.handleTimeout(0);
    join(core, 0, 1);
    const first = only(drainSender(core, 1), MessageType.Hello);
    core.handleTimeout(1000);
    const later = only(drainSender(core, 1000), MessageType.Hello);
    expect([...first, ...later].map((h) => [h.phase, h.caps])).toEqual([
      [HelloPhase.Announcing, caps],
      [HelloPhase.Transferring, caps],
    ]);
  });

  it('without streaming, a late JOIN gets DROP LateJoin and nothing else', () => {
    const core = started({ streaming: false });
    feedWanted(core, pattern(4000), 2);
    takeData(core, 6, 2);
    join(core, 1, 5);
    const sent = drainSender(core, 5);
    expect(only(sent, MessageType.Drop)).toEqual([{ sessionId: SESSION, receiverId: rcv(1).id, reason: Reason.LateJoin }]);
    expect(only(sent, MessageType.Accept)).toEqual([]);
    expect(drainEvents(core)).toEqual([]);
    expect(core.stats.lateJoins).toBe(0);
    expect(core.stats.joinsRefused).toBe(1);
    expect(core.receiverList()).toHaveLength(1);
  });
});

describe('SenderCore --streaming: the head of a late receiver', () => {
  it('reloads a freed head slice once and answers the NAK with its 4 data blocks', () => {
    const { core, image } = headFreed();
    nak(core, 1, 10, 0);
    expect(drainSender(core, 10)).toEqual([]);
    expect(core.tableSizes.reloadsPending).toBe(1);
    expect(core.stats.naksIgnored).toBe(0);
    expect(core.pollReload()).toBe(0);
    expect(core.pollReload()).toBeUndefined();
    core.handle({ kind: 'reload', sliceNo: 0, bytes: image.subarray(0, SLICE) }, 11);
    const sent = drainSender(core, 11);
    expect(types(sent)).toEqual(['DATA', 'DATA', 'DATA', 'DATA']);
    expect(dataOf(sent).map((d) => [d.seq, d.sliceNo, d.sliceBytes, d.flags, d.stripe, d.blockNo])).toEqual([
      [33, 0, 400, DATA_FLAG_REPAIR, 0, 0],
      [34, 0, 400, DATA_FLAG_REPAIR, 0, 1],
      [35, 0, 400, DATA_FLAG_REPAIR, 0, 2],
      [36, 0, 400, DATA_FLAG_REPAIR, 0, 3],
    ]);
    expect(dataOf(sent).every((d) => (d.flags & DATA_FLAG_PARITY) === 0)).toBe(true);
    expect(Buffer.concat(dataOf(sent).map((d) => d.payload))).toEqual(Buffer.from(image.subarray(0, SLICE)));
    expect(core.stats.reloads).toBe(1);
    expect(core.stats.dataResends).toBe(4);
    expect(core.stats.repairPackets).toBe(4);
    expect(core.tableSizes.reloadsPending).toBe(0);
    expect(core.pollReload()).toBeUndefined();
  });

  it('a repeated NAK for a slice already wanted keeps one reload', () => {
    const { core } = headFreed();
    nak(core, 1, 10, 1);
    nak(core, 1, 11, 1);
    expect(core.tableSizes.reloadsPending).toBe(1);
    expect(core.pollReload()).toBe(1);
    nak(core, 1, 12, 1);
    expect(core.pollReload()).toBeUndefined();
    expect(core.stats.naksIgnored).toBe(0);
  });

  it('no reload for a receiver that joined at 0, nor for a slice at or past the late joinSlice', () => {
    const { core } = headFreed();
    nak(core, 0, 10, 0); // receiver 0 joined normally: slice 0 was freed because it had it
    nak(core, 1, 10, 2); // slice 2 is the late receiver's first live slice, freed too
    expect(core.pollReload()).toBeUndefined();
    expect(core.tableSizes.reloadsPending).toBe(0);
    expect(core.stats.naksReceived).toBe(2);
    expect(core.stats.naksIgnored).toBe(2);
    expect(core.stats.reloads).toBe(0);
    expect(drainSender(core, 10)).toEqual([]);
  });

  it('a head slice still held is answered at once, without a reload', () => {
    const { core, image } = lateAt2();
    status(core, 0, 6, 16, 0);
    status(core, 1, 6, 16, 2);
    nak(core, 1, 6, 1);
    const sent = dataOf(drainSender(core, 6)).filter((d) => (d.flags & DATA_FLAG_REPAIR) !== 0);
    expect(sent.map((d) => [d.sliceNo, d.blockNo, d.flags])).toEqual([0, 1, 2, 3].map((b) => [1, b, DATA_FLAG_REPAIR]));
    expect(Buffer.concat(sent.map((d) => d.payload))).toEqual(Buffer.from(image.subarray(SLICE, 2 * SLICE)));
    expect(core.pollReload()).toBeUndefined();
    expect(core.stats.reloads).toBe(0);
  });

  it('throws RangeError for a reload of the wrong length, or one never asked for', () => {
    const { core, image } = headFreed();
    expect(() => core.handle({ kind: 'reload', sliceNo: 1, bytes: image.subarray(SLICE, 2 * SLICE) }, 10)).toThrow(RangeError);
    nak(core, 1, 10, 0);
    expect(core.pollReload()).toBe(0);
    expect(() => core.handle({ kind: 'reload', sliceNo: 0, bytes: image.subarray(0, SLICE - 1) }, 11)).toThrow(RangeError);
    expect(core.stats.reloads).toBe(0);
  });
});

describe('SenderCore --streaming: bounds', () => {
  /**
   * 100 slices; receiver 0 reports everything as it goes until the first pass has sent
   * slices 0..19 whole; then receiver 1 joins late (joinSlice 20) and every head slice
   * 0..19 is freed, and slices 20..27 fill retention.
   */
  function lateAt20(): { core: SenderCore; image: Uint8Array } {
    const core = started({ imageBytes: 40_000 });
    const image = pattern(40_000);
    let sent = 0;
    for (let guard = 0; sent < 80; guard++) {
      expect(guard).toBeLessThan(1000);
      feedWanted(core, image, 2);
      const t = core.pollTransmit(2);
      if (t !== undefined && t.to === 'data' && sent < 80) {
        sent++;
        continue;
      }
      status(core, 0, 2, sent, Math.floor(sent / 4));
    }
    join(core, 1, 3);
    const accepts = only(drainSender(core, 3), MessageType.Accept);
    expect(accepts.map((a) => a.joinSlice)).toEqual([20]);
    status(core, 0, 4, 80, 20);
    feedWanted(core, image, 4);
    expect(core.tableSizes.slices).toBe(8); // 20..27: retention is full
    drainEvents(core);
    return { core, image };
  }

  it('holds at most retainSlices wanted reloads, and at most 2 x retainSlices slices while answering them', () => {
    const { core, image } = lateAt20();
    for (let n = 0; n < 20; n++) nak(core, 1, 10, n);
    expect(core.tableSizes.reloadsPending).toBe(8);
    expect(core.stats.naksIgnored).toBe(12);

    // Answer every reload; NAK again whatever was not answered yet (as the receiver would).
    // Both receivers report all they have seen, so only retention bounds what is held (no
    // more slices are handed: the first pass stops at the ones already taken).
    const answered = new Set<number>();
    let maxSlices = core.tableSizes.slices;
    let lastSeq = 80;
    const pump = (now: number): void => {
      for (let sent = dataOf(drainSender(core, now)); sent.length > 0; sent = dataOf(drainSender(core, now))) {
        for (const d of sent) {
          lastSeq = d.seq;
          if ((d.flags & DATA_FLAG_REPAIR) === 0) continue; // the first pass goes on
          expect([d.sliceNo < 20, d.flags]).toEqual([true, DATA_FLAG_REPAIR]);
          answered.add(d.sliceNo);
        }
        status(core, 0, now, lastSeq, 20);
        status(core, 1, now, lastSeq, 20);
        maxSlices = Math.max(maxSlices, core.tableSizes.slices);
      }
    };
    for (let round = 0, now = 20; answered.size < 20; round++, now += 20) {
      expect(round).toBeLessThan(10);
      for (let n = 0; n < 20; n++) if (!answered.has(n)) nak(core, 1, now, n);
      expect(core.tableSizes.reloadsPending).toBeLessThanOrEqual(8);
      for (let s = core.pollReload(); s !== undefined; s = core.pollReload()) {
        core.handle({ kind: 'reload', sliceNo: s, bytes: image.subarray(s * SLICE, (s + 1) * SLICE) }, now);
        maxSlices = Math.max(maxSlices, core.tableSizes.slices);
        pump(now);
      }
    }
    // 8 retained and 8 reloaded at the peak, never more.
    expect(maxSlices).toBe(16);
    expect(core.stats.reloads).toBe(20);
    expect(core.stats.dataResends).toBe(80);
  });

  it('with reloads out and none back, pollReload stops at retainSlices', () => {
    const { core } = lateAt20();
    for (let n = 0; n < 8; n++) nak(core, 1, 10, n);
    const out: number[] = [];
    for (let s = core.pollReload(); s !== undefined; s = core.pollReload()) out.push(s);
    expect(out).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    nak(core, 1, 11, 8);
    expect(core.pollReload()).toBeUndefined();
    expect(core.stats.naksIgnored).toBe(1);
  });
});

describe('SenderCore repair by data resend', () => {
  /** One receiver; slices 0..7 handed, 8 DATA sent (slices 0 and 1 whole) at t=2. */
  function sent2(): { core: SenderCore; image: Uint8Array } {
    const core = started();
    const image = pattern(4000);
    feedWanted(core, image, 2);
    takeData(core, 8, 2);
    status(core, 0, 2, 8, 0);
    return { core, image };
  }

  it('need k adds nothing while the resend is queued; after nakHoldMs (12) it resends again', () => {
    const { core, image } = sent2();
    nak(core, 0, 10, 0);
    nak(core, 0, 10, 0);
    nak(core, 0, 10, 0, 4, 3);
    expect(core.tableSizes.repairDatagrams).toBe(4);
    // The repair goes before the rest of the first pass (seq 9..12), then slice 2 goes on.
    const first = dataOf(drainSender(core, 10));
    expect(first.slice(0, 4).map((d) => [d.seq, d.sliceNo, d.blockNo, d.flags])).toEqual([0, 1, 2, 3].map((b) => [9 + b, 0, b, DATA_FLAG_REPAIR]));
    expect(Buffer.concat(first.slice(0, 4).map((d) => d.payload))).toEqual(Buffer.from(image.subarray(0, SLICE)));
    expect(first.slice(4).every((d) => d.sliceNo >= 2 && (d.flags & DATA_FLAG_REPAIR) === 0)).toBe(true);
    expect(core.stats.dataResends).toBe(4);
    status(core, 0, 10, 24, 0);
    drainSender(core, 10);

    // Within the hold (10 + 12), not having heard a later burst: nothing.
    nak(core, 0, 22, 0);
    expect(dataOf(drainSender(core, 22))).toEqual([]);
    // Past it: the data blocks again.
    nak(core, 0, 23, 0);
    expect(dataOf(drainSender(core, 23)).map((d) => [d.sliceNo, d.blockNo, d.flags])).toEqual([0, 1, 2, 3].map((b) => [0, b, DATA_FLAG_REPAIR]));
    expect(core.stats.dataResends).toBe(8);
    expect(core.stats.naksIgnored).toBe(0);
  });

  it('a NAK past nakHoldMs while the resend is half sent adds nothing: it is still under way', () => {
    const { core } = sent2();
    nak(core, 0, 10, 0);
    const firstTwo = takeData(core, 2, 10).map((t) => decode(concat(t.parts)));
    expect(only(firstTwo, MessageType.Data).map((d) => [d.sliceNo, d.blockNo, d.flags])).toEqual([
      [0, 0, DATA_FLAG_REPAIR],
      [0, 1, DATA_FLAG_REPAIR],
    ]);
    expect(core.tableSizes.repairDatagrams).toBe(2);
    nak(core, 0, 30, 0);
    nak(core, 0, 30, 0, 4, 9);
    expect(core.tableSizes.repairDatagrams).toBe(2);
    const rest = dataOf(drainSender(core, 30)).filter((d) => (d.flags & DATA_FLAG_REPAIR) !== 0);
    expect(rest.map((d) => [d.sliceNo, d.blockNo])).toEqual([
      [0, 2],
      [0, 3],
    ]);
    expect(core.stats.dataResends).toBe(4);
  });

  it('need < k gets fresh parity, not data', () => {
    const { core } = sent2();
    nak(core, 0, 10, 1, 2);
    const sent = dataOf(drainSender(core, 10)).filter((d) => (d.flags & DATA_FLAG_REPAIR) !== 0);
    expect(sent.map((d) => [d.sliceNo, d.blockNo, d.flags])).toEqual([
      [1, 0, DATA_FLAG_PARITY | DATA_FLAG_REPAIR],
      [1, 1, DATA_FLAG_PARITY | DATA_FLAG_REPAIR],
    ]);
    expect(core.stats.dataResends).toBe(0);
    expect(core.stats.repairPackets).toBe(2);
  });

  it('need k while parity for the stripe is queued replaces it with the data blocks', () => {
    const { core } = sent2();
    nak(core, 0, 10, 1, 2);
    nak(core, 0, 30, 1, 4);
    expect(core.tableSizes.repairDatagrams).toBe(4);
    const sent = dataOf(drainSender(core, 30)).filter((d) => (d.flags & DATA_FLAG_REPAIR) !== 0);
    expect(sent.map((d) => [d.sliceNo, d.blockNo, d.flags])).toEqual([0, 1, 2, 3].map((b) => [1, b, DATA_FLAG_REPAIR]));
  });
});

describe('SenderCore: a receiver that has every slice', () => {
  it('no longer holds the flow window (it verifies, or a late one reads its image back)', () => {
    const core = new SenderCore(cfg({ minReceivers: 2 }), 0);
    core.handleTimeout(0);
    join(core, 0, 1);
    join(core, 1, 1);
    drainSender(core, 1);
    drainEvents(core);
    const image = pattern(4000);
    let seq = 0;
    // The first pass, both receivers keeping up (the window is 16 packets).
    for (let t = 2; seq < 40 && t < 100; t++) {
      feedWanted(core, image, t);
      seq += dataOf(drainSender(core, t)).length;
      status(core, 0, t, seq, Math.floor(seq / 4));
      status(core, 1, t, seq, Math.min(2, Math.floor(seq / 4)));
    }
    expect(seq).toBe(40);
    core.handle({ kind: 'eof', digest: new Uint8Array(32) }, 100);
    expect(types(drainSender(core, 100))).toContain('END');
    // Receiver 0 has it all and verifies (COMPLETE); receiver 1 lost slices 2..9 whole.
    core.handle(from(0, statusBytes({ receiverId: rcv(0).id, seenSeq: 40, deliveredSlices: 10, flags: STATUS_FLAG_COMPLETE })), 101);
    for (let n = 2; n < 10; n++) nak(core, 1, 102, n);
    expect(dataOf(drainSender(core, 102))).toHaveLength(16); // a window's worth of the 32 resends
    // Receiver 1 saw them: the window moves on, though receiver 0 says nothing more.
    status(core, 1, 103, 56, 2);
    expect(dataOf(drainSender(core, 103))).toHaveLength(16);
  });
});
