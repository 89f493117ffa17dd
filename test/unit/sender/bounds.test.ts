// Resource bounds of the sender core under floods: JOINs from 100k
// addresses, NAKs from receivers it never heard of, NAKs asking for the most they can, and
// STATUS/REPORT/LEAVE storms. Every table the core keeps is checked through `tableSizes`
// (nothing keyed by wire data grows past its bound), and so is what a flood makes it send.
//
// The bounds (sender/core.ts), with the CLI's defaults (1448-byte blocks, 128 a slice:
// 185 KB slices, retainSlices 90, maxReceivers 1024):
//   retained slices  <= retainSlices x sliceBytes (+ padding of short blocks)   ~16.7 MB
//   receivers        <= maxReceivers records of ~200 bytes                      ~200 KB
//   control queue    <= MAX_CONTROL_QUEUE (4096) datagrams of <= 52 bytes        < 1 MB
//   repair queue     <= retainSlices x stripes entries, <= k datagrams queued per stripe
//   DATA headers     a ring of HEADER_RING x 24 bytes                            96 KiB
//   events           <= 2 per receiver + 3 (the driver drains them every turn)

import { describe, expect, it } from 'vitest';
import { CAP_ASYNC, CAP_PARITY_REPAIR, MessageType } from '../../../protocol/header.js';
import { Reason } from '../../../protocol/reasons.js';
import { MAX_CONTROL_QUEUE, type SenderConfig, SenderCore } from '../../../sender/core.js';
import { pattern } from '../../support/bytes.js';
import { senderConfig as cfg, drainEvents, drainSender, only, types } from '../../support/cores.js';
import { joinBytes, leaveBytes, nakBytes, rcv, reportBytes, SESSION, statusBytes } from '../../support/datagrams.js';

/** An address for flood source i: 100k distinct ones in 198.18.0.0/15, none in 198.18.0.0/24 (the receivers'). */
function floodAddress(i: number): { address: string; port: number } {
  const j = i + 256;
  return { address: `198.${18 + (j >> 16)}.${(j >> 8) & 255}.${j & 255}`, port: 9001 };
}

function announcing(over: Partial<SenderConfig> = {}): SenderCore {
  const core = new SenderCore(cfg(over), 0);
  core.handleTimeout(0);
  drainSender(core, 0);
  return core;
}

/** Two receivers joined, START out, and every slice of a 4000-byte image sent once (drained). */
function transferring(over: Partial<SenderConfig> = {}): SenderCore {
  const c = cfg({ minReceivers: 2, ...over });
  const core = announcing(c);
  for (const i of [0, 1]) core.handle({ kind: 'datagram', from: rcv(i).from, bytes: joinBytes({ receiverId: rcv(i).id, rcvBufBytes: 1 << 20 }) }, 1);
  const image = pattern(c.imageBytes);
  const slice = c.blockBytes * c.sliceBlocks;
  for (let off = 0; core.wantsSlice() && off < image.byteLength; off += slice) {
    core.handle({ kind: 'slice', bytes: image.subarray(off, off + slice) }, 1);
  }
  drainSender(core, 1);
  drainEvents(core);
  expect(core.currentPhase).toBe('transferring');
  return core;
}

describe('a JOIN flood from 100k addresses', () => {
  it('while announcing: at most maxReceivers join, the control queue stays at its bound, nothing else grows', () => {
    const core = announcing({ maxReceivers: 1024 });
    for (let i = 0; i < 100_000; i++) {
      core.handle({ kind: 'datagram', from: floodAddress(i), bytes: joinBytes({ receiverId: i + 1 }) }, 1);
      // Nothing drained: the worst case for the queues.
      const t = core.tableSizes;
      if (t.receivers > 1024 || t.control > MAX_CONTROL_QUEUE) throw new Error(`after JOIN ${i}: ${JSON.stringify(t)}`);
    }
    const t = core.tableSizes;
    expect(t.receivers).toBe(1024);
    expect(t.control).toBe(MAX_CONTROL_QUEUE);
    expect(t.events).toBe(1024); // one 'joined' each
    expect(t.slices).toBe(0);
    expect(core.stats.joinsReceived).toBe(100_000);
    expect(core.stats.joinsRefused).toBe(100_000 - 1024);
    // What did not fit in the queue was not sent, and counted.
    expect(core.stats.controlOverflows).toBe(1024 + (100_000 - 1024) - MAX_CONTROL_QUEUE);
    expect(core.stats.drops).toEqual({});
    const sent = drainSender(core, 2);
    expect(sent).toHaveLength(MAX_CONTROL_QUEUE);
    expect(types(sent.slice(0, 3))).toEqual(['ACCEPT', 'ACCEPT', 'ACCEPT']);
    expect(only(sent, MessageType.Drop).every((d) => d.reason === Reason.SessionFull)).toBe(true);
  });

  it('while announcing, drained every turn as the driver does: each refused JOIN costs one 16-byte DROP and no state', () => {
    const core = announcing({ maxReceivers: 16 });
    let maxControl = 0;
    let drops = 0;
    for (let i = 0; i < 100_000; i++) {
      core.handle({ kind: 'datagram', from: floodAddress(i), bytes: joinBytes({ receiverId: i + 1 }) }, 1);
      maxControl = Math.max(maxControl, core.tableSizes.control);
      for (const s of drainSender(core, 1)) if (s.m.type === MessageType.Drop) drops++;
      drainEvents(core);
    }
    expect(core.tableSizes.receivers).toBe(16);
    expect(maxControl).toBe(1);
    expect(drops).toBe(100_000 - 16);
    expect(core.stats.controlOverflows).toBe(0);
  });

  it('during the transfer: every JOIN is refused as late, the table does not change', () => {
    const core = transferring();
    for (let i = 0; i < 100_000; i++) {
      core.handle({ kind: 'datagram', from: floodAddress(i), bytes: joinBytes({ receiverId: 0x10_0000 + i }) }, 2);
      if (i % 1000 === 999) drainSender(core, 2);
    }
    const t = core.tableSizes;
    expect(t.receivers).toBe(2);
    expect(t.control).toBeLessThanOrEqual(MAX_CONTROL_QUEUE);
    expect(core.stats.joinsRefused).toBe(100_000);
    expect(core.receiverList().map((r) => r.id)).toEqual([rcv(0).id, rcv(1).id]);
  });

  it('a JOIN with a known receiver id from another address is ignored: no ACCEPT, no takeover', () => {
    const core = transferring();
    for (let i = 0; i < 10_000; i++) {
      core.handle({ kind: 'datagram', from: floodAddress(i), bytes: joinBytes({ receiverId: rcv(0).id }) }, 2);
    }
    // ACCEPT goes to one receiver's endpoint now: nothing but DATA may have gone out.
    expect(drainSender(core, 2).filter((s) => s.to !== 'data')).toEqual([]);
    expect(core.receiverList()[0]!.address).toBe(rcv(0).from.address);
  });
});

describe('junk costs the same whatever the number of receivers', () => {
  it('a datagram dropped at the checks touches nothing: no transmit, no event, the same deadline, not even what is due then', () => {
    const core = transferring();
    const deadline = core.pollTimeout();
    const before = { ...core.stats.drops };
    // At the core's next deadline: the junk does not run the clock (handleTimeout does).
    for (const bytes of [new Uint8Array(40), nakBytes({ receiverId: 0x999, sliceNo: 0, need: [1] }), joinBytes({ receiverId: 5, sessionId: 0x1 })]) {
      core.handle({ kind: 'datagram', from: floodAddress(1), bytes }, deadline!);
    }
    expect(drainSender(core, deadline!)).toEqual([]);
    expect(drainEvents(core)).toEqual([]);
    expect(core.pollTimeout()).toBe(deadline);
    expect(core.stats.drops).toEqual({ ...before, ERR_BAD_MAGIC: 1, ERR_UNKNOWN_RECEIVER: 1, ERR_WRONG_SESSION: 1 });
    core.handleTimeout(deadline!);
    expect(drainSender(core, deadline!).length).toBeGreaterThan(0);
  });

  it('100k junk datagrams with 1024 receivers in the session (the time per datagram is printed, not asserted)', () => {
    const core = announcing({ maxReceivers: 1024, minReceivers: 1024 });
    for (let i = 0; i < 1024; i++) core.handle({ kind: 'datagram', from: floodAddress(i), bytes: joinBytes({ receiverId: i + 1, rcvBufBytes: 1 << 20 }) }, 1);
    expect(core.currentPhase).toBe('transferring');
    drainSender(core, 1);
    const junk = nakBytes({ receiverId: 0x7777_7777, sliceNo: 0, need: [1] });
    const t0 = performance.now();
    for (let i = 0; i < 100_000; i++) core.handle({ kind: 'datagram', from: floodAddress(5000), bytes: junk }, 2);
    const us = ((performance.now() - t0) * 1000) / 100_000;
    expect(core.stats.drops.ERR_UNKNOWN_RECEIVER).toBe(100_000);
    console.log(`sender core: ${us.toFixed(2)} µs per NAK from an unknown receiver with 1024 receivers in the session`);
  });
});

describe('refusals say why', () => {
  it('a JOIN without CAP_PARITY_REPAIR is refused as Incompatible, not SessionFull', () => {
    const core = announcing();
    core.handle({ kind: 'datagram', from: rcv(0).from, bytes: joinBytes({ receiverId: rcv(0).id, caps: CAP_ASYNC }) }, 1);
    const sent = drainSender(core, 1);
    expect(only(sent, MessageType.Drop)).toEqual([{ sessionId: SESSION, receiverId: rcv(0).id, reason: Reason.Incompatible }]);
    expect(core.tableSizes.receivers).toBe(0);
    expect(core.stats.joinsRefused).toBe(1);
  });

  it('a full session still says SessionFull, also to an incompatible JOIN’s compatible neighbour', () => {
    const core = announcing({ maxReceivers: 1 });
    core.handle({ kind: 'datagram', from: rcv(0).from, bytes: joinBytes({ receiverId: rcv(0).id }) }, 1);
    core.handle({ kind: 'datagram', from: rcv(1).from, bytes: joinBytes({ receiverId: rcv(1).id, caps: CAP_PARITY_REPAIR }) }, 1);
    core.handle({ kind: 'datagram', from: rcv(2).from, bytes: joinBytes({ receiverId: rcv(2).id, caps: 0 }) }, 1);
    const reasons = only(drainSender(core, 1), MessageType.Drop).map((d) => [d.receiverId, d.reason]);
    expect(reasons).toEqual([
      [rcv(1).id, Reason.SessionFull],
      [rcv(2).id, Reason.Incompatible],
    ]);
  });
});

describe('a NAK flood', () => {
  it('from 100k receivers the sender never accepted: each dropped as ERR_UNKNOWN_RECEIVER, nothing queued or sent', () => {
    const core = transferring();
    for (let i = 0; i < 100_000; i++) {
      core.handle({ kind: 'datagram', from: floodAddress(i), bytes: nakBytes({ receiverId: 0x20_0000 + i, sliceNo: i % 10, need: [255] }) }, 2);
    }
    expect(core.stats.drops.ERR_UNKNOWN_RECEIVER).toBe(100_000);
    expect(core.stats.naksReceived).toBe(0);
    expect(core.tableSizes.repairStripes).toBe(0);
    expect(core.tableSizes.repairDatagrams).toBe(0);
    expect(drainSender(core, 2)).toEqual([]);
  });

  it('in a known receiver’s name from other addresses: ERR_FOREIGN_ADDRESS, nothing queued', () => {
    const core = transferring();
    for (let i = 0; i < 10_000; i++) {
      core.handle({ kind: 'datagram', from: floodAddress(i), bytes: nakBytes({ receiverId: rcv(0).id, sliceNo: 0, need: [255], heard: [255] }) }, 2);
    }
    expect(core.stats.drops.ERR_FOREIGN_ADDRESS).toBe(10_000);
    expect(core.tableSizes.repairDatagrams).toBe(0);
  });

  it('from a known receiver, 10k NAKs each asking the most (need 255, heard 255): at most k repairs queued per stripe', () => {
    // 4 stripes of a 16-block slice: k = 4 each. Before the cap, every NAK that had heard the
    // burst queued k more parity: 10k NAKs of 26 bytes asked for 40k datagrams per stripe.
    const core = transferring({ sliceBlocks: 16, stripes: 4, imageBytes: 4000 });
    const nak = nakBytes({ receiverId: rcv(0).id, sliceNo: 0, need: [255, 255, 255, 255], heard: [255, 255, 255, 255] });
    for (let i = 0; i < 10_000; i++) {
      core.handle({ kind: 'datagram', from: rcv(0).from, bytes: nak }, 2 + i);
      const t = core.tableSizes;
      if (t.repairDatagrams > 16 || t.repairStripes > 4) throw new Error(`after NAK ${i}: ${JSON.stringify(t)}`);
    }
    expect(core.stats.naksReceived).toBe(10_000);
    expect(core.tableSizes.repairStripes).toBe(4);
    expect(core.tableSizes.repairDatagrams).toBe(16);
    const repairs = drainSender(core, 20_000).filter((s) => s.to === 'data');
    expect(repairs).toHaveLength(16);
    expect(core.stats.repairPackets).toBe(16);
  });

  it('for every slice number and with the wrong stripe count: ignored without state', () => {
    const core = transferring();
    for (let i = 0; i < 100_000; i++) {
      const sliceNo = (i * 2654435761) >>> 0;
      core.handle({ kind: 'datagram', from: rcv(0).from, bytes: nakBytes({ receiverId: rcv(0).id, sliceNo, need: [3] }) }, 2);
      core.handle({ kind: 'datagram', from: rcv(1).from, bytes: nakBytes({ receiverId: rcv(1).id, sliceNo: 0, need: [1, 1] }) }, 2);
    }
    // Slices 0..7 are held (retainSlices 8, none delivered yet); any other number is not.
    expect(core.tableSizes.slices).toBeLessThanOrEqual(8);
    expect(core.tableSizes.repairStripes).toBeLessThanOrEqual(8);
    expect(core.tableSizes.repairDatagrams).toBeLessThanOrEqual(8 * 4);
    expect(core.stats.naksIgnored).toBeGreaterThanOrEqual(100_000);
  });
});

describe('STATUS, REPORT and LEAVE storms', () => {
  it('absurd STATUS values from a known receiver move nothing past what was sent', () => {
    const core = transferring();
    for (let i = 0; i < 10_000; i++) {
      core.handle(
        {
          kind: 'datagram',
          from: rcv(0).from,
          bytes: statusBytes({ receiverId: rcv(0).id, seenSeq: 0xffff_fff0 + (i & 15), deliveredSlices: 0xffff_ffff - i, bytesWritten: 2 ** 53 - 1 }),
        },
        2,
      );
    }
    const r = core.receiverList()[0]!;
    expect(r.deliveredSlices).toBe(0);
    expect(r.seenSeq).toBe(0);
    // The other receiver still holds every slice back: none freed on the flood's word.
    expect(core.tableSizes.slices).toBe(8);
  });

  it('10k REPORTs and LEAVEs: one event per receiver, one REPORT_ACK per REPORT (they are the receiver’s own retries)', () => {
    const core = transferring();
    for (let i = 0; i < 10_000; i++) {
      core.handle({ kind: 'datagram', from: rcv(0).from, bytes: reportBytes({ receiverId: rcv(0).id, outcome: 1, reason: Reason.WriteError }) }, 2);
      core.handle({ kind: 'datagram', from: rcv(1).from, bytes: leaveBytes({ receiverId: rcv(1).id, reason: Reason.Interrupted }) }, 2);
      if (i % 1000 === 999) drainSender(core, 2);
    }
    expect(drainEvents(core).map((e) => e.kind)).toEqual(['reported', 'left', 'done']);
    expect(core.tableSizes.control).toBeLessThanOrEqual(MAX_CONTROL_QUEUE);
  });
});
