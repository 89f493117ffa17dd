// The udpcast sender core driven by hand on virtual time: exact datagrams, counters and
// timer edges (deadline - 1 and deadline).

import { describe, expect, it } from 'vitest';
import { decodeUdpcastDatagram } from '../../../../protocol/udpcast/codec.js';
import { encodeConnectReq } from '../../../../protocol/udpcast/connect-req.js';
import { encodeDisconnect } from '../../../../protocol/udpcast/disconnect.js';
import { encodeOk } from '../../../../protocol/udpcast/ok.js';
import { encodeRetransmit } from '../../../../protocol/udpcast/retransmit.js';
import { BITMAP_BYTES, bitIsSet, setBit } from '../../../../protocol/udpcast/wire.js';
import { UdpcastSenderCore, type UdpcastSenderEvent, type UdpcastTransmit } from '../../../../sender/udpcast/core.js';
import { simConfig } from '../../../sim/udpcast/sim.js';

const B = 256;
const A = '198.18.0.11';
const C = '198.18.0.12';

function core(over: Parameters<typeof simConfig>[0]['sender'] = {}, receivers = 1): UdpcastSenderCore {
  // Fixed pacing far above what the tests send, so every datagram goes at once.
  return new UdpcastSenderCore(
    simConfig({
      receivers,
      blockBytes: B,
      sliceBlocks: 8,
      parityRepair: false,
      sender: {
        pacing: { startRateBps: 1e12, minRateBps: 1e12, maxRateBps: 1e12, burstBytes: 1e9, fixed: true },
        retriesUntilDrop: 3,
        reqackCopies: 1,
        reqackRepeatMinMs: 1e9,
        ...over,
      },
    }),
    0,
  );
}

function drain(c: UdpcastSenderCore, now: number): UdpcastTransmit[] {
  const out: UdpcastTransmit[] = [];
  for (let t = c.pollTransmit(now); t !== undefined; t = c.pollTransmit(now)) out.push(t);
  return out;
}

function events(c: UdpcastSenderCore): UdpcastSenderEvent[] {
  const out: UdpcastSenderEvent[] = [];
  for (let e = c.pollEvent(); e !== undefined; e = c.pollEvent()) out.push(e);
  return out;
}

function kinds(ts: UdpcastTransmit[]): string[] {
  return ts.map((t) => {
    const r = decodeUdpcastDatagram(t.parts.length === 1 ? t.parts[0]! : Uint8Array.from([...t.parts[0]!, ...t.parts[1]!]), B);
    if (!r.ok) return `bad:${r.code}`;
    const m = r.value;
    if (m.kind === 'data') return `data ${m.msg.sliceNo}.${m.msg.blockNo}`;
    if (m.kind === 'reqack') return `reqack ${m.msg.sliceNo} r${m.msg.rxmit}${m.msg.readySet.some((x) => x !== 0) ? ' ready' : ''}`;
    if (m.kind === 'connect-reply') return `reply #${m.msg.clNr}`;
    return m.kind;
  });
}

const dg = (bytes: Uint8Array, address = A) => ({ kind: 'datagram' as const, from: { address, port: 9000 }, bytes });
const connectReq = () => {
  const b = new Uint8Array(12);
  encodeConnectReq({ capabilities: 9, rcvbufBytes: 212992 }, b);
  return b;
};
const ok = (sliceNo: number) => {
  const b = new Uint8Array(8);
  encodeOk({ sliceNo }, b);
  return b;
};
const retransmit = (sliceNo: number, rxmit: number, missing: number[], n: number) => {
  const have = new Uint8Array(BITMAP_BYTES);
  for (let i = 0; i < n; i++) if (!missing.includes(i)) setBit(have, i);
  const b = new Uint8Array(140);
  encodeRetransmit({ sliceNo, rxmit, haveMap: have }, b);
  return b;
};

/** One receiver connected and the transfer started at t = 50 (grace 50 ms). */
function started(imageBytes: number, over: Parameters<typeof core>[0] = {}): UdpcastSenderCore {
  const c = core(over);
  c.handleTimeout(0);
  drain(c, 0);
  c.handle(dg(connectReq()), 0);
  drain(c, 0);
  c.handleTimeout(50);
  drain(c, 50);
  expect(c.phase).toBe('sending');
  c.handle({ kind: 'slice', bytes: new Uint8Array(imageBytes).fill(7) }, 50);
  c.handle({ kind: 'eof' }, 50);
  return c;
}

describe('udpcast sender core', () => {
  it('HELLO at once and every helloIntervalMs: nothing at deadline - 1, a HELLO at the deadline', () => {
    const c = core({ helloIntervalMs: 1000 });
    c.handleTimeout(0);
    expect(drain(c, 0).map((t) => t.to)).toEqual(['rendezvous']);
    expect(c.pollTimeout()).toBe(1000);
    c.handleTimeout(999);
    expect(drain(c, 999)).toEqual([]);
    c.handleTimeout(1000);
    expect(drain(c, 1000).map((t) => t.to)).toEqual(['rendezvous']);
    expect(c.stats.hellos).toBe(2);
  });

  it('HELLO every helloShortMs until minReceivers are in, then every helloIntervalMs; CONNECT_REPLYs again only at helloIntervalMs', () => {
    const c = core({ helloIntervalMs: 1000, helloShortMs: 100, startGraceMs: 10_000 }, 2);
    c.handleTimeout(0);
    expect(drain(c, 0).map((t) => t.to)).toEqual(['rendezvous']);
    expect(c.pollTimeout()).toBe(100);
    c.handleTimeout(99);
    expect(drain(c, 99)).toEqual([]);
    c.handleTimeout(100);
    expect(drain(c, 100).map((t) => t.to)).toEqual(['rendezvous']);
    // One of two in: still short, and no CONNECT_REPLY repeats with the short HELLOs.
    c.handle(dg(connectReq(), A), 150);
    expect(kinds(drain(c, 150))).toEqual(['reply #0']);
    c.handleTimeout(200);
    expect(drain(c, 200).map((t) => t.to)).toEqual(['rendezvous']);
    c.handleTimeout(300);
    expect(drain(c, 300).map((t) => t.to)).toEqual(['rendezvous']);
    // Both in: the HELLO after this one comes helloIntervalMs later.
    c.handle(dg(connectReq(), C), 350);
    expect(kinds(drain(c, 350))).toEqual(['reply #1']);
    c.handleTimeout(400);
    expect(drain(c, 400).map((t) => t.to)).toEqual(['rendezvous']);
    c.handleTimeout(1399);
    expect(drain(c, 1399).filter((t) => t.to === 'rendezvous')).toEqual([]);
    c.handleTimeout(1400);
    const t1400 = drain(c, 1400);
    expect(t1400.filter((t) => t.to === 'rendezvous')).toHaveLength(1);
    // The 1000 ms tick sends each connected receiver its reply again.
    expect(kinds(t1400.filter((t) => t.to !== 'rendezvous')).sort()).toEqual(['reply #0', 'reply #1']);
    expect(c.stats.hellos).toBe(6);
  });

  it('without helloShortMs, or with minReceivers reached, HELLO keeps helloIntervalMs', () => {
    const c = core({ helloIntervalMs: 1000 }, 2);
    c.handleTimeout(0);
    drain(c, 0);
    expect(c.pollTimeout()).toBe(1000);
  });

  it('CONNECT_REQ: a reply at once and twice more within the start grace; the same address keeps its clNr', () => {
    const c = core({}, 2);
    c.handleTimeout(0);
    drain(c, 0);
    c.handle(dg(connectReq(), A), 1);
    c.handle(dg(connectReq(), C), 2);
    expect(kinds(drain(c, 2))).toEqual(['reply #0', 'reply #1']);
    c.handle(dg(connectReq(), A), 3);
    expect(kinds(drain(c, 3))).toEqual(['reply #0']);
    expect(events(c).map((e) => (e.kind === 'connected' ? `${e.address} #${e.clNr}${e.again ? ' again' : ''}` : e.kind))).toEqual([
      `${A} #0`,
      `${C} #1`,
      `${A} #0 again`,
    ]);
    // Grace 50 ms after the last CONNECT_REPLY (t = 3): not at 52, at 53.
    c.handleTimeout(52);
    expect(c.phase).toBe('waiting');
    c.handleTimeout(53);
    expect(c.phase).toBe('sending');
    expect(c.stats.connectReplies).toBeGreaterThanOrEqual(5);
  });

  it('first pass, REQACK, a RETRANSMIT answered with exactly the missing blocks, then OK and the end', () => {
    const c = started(8 * B);
    expect(kinds(drain(c, 50))).toEqual(['data 0.0', 'data 0.1', 'data 0.2', 'data 0.3', 'data 0.4', 'data 0.5', 'data 0.6', 'data 0.7', 'reqack 0 r0']);
    c.handle(dg(retransmit(0, 0, [3, 7], 8)), 51);
    expect(kinds(drain(c, 51))).toEqual(['data 0.3', 'data 0.7', 'reqack 0 r1']);
    expect(c.stats.rexmitBlocks).toBe(2);
    c.handle(dg(ok(0)), 52);
    // The end: a zero-byte slice's REQACK.
    expect(kinds(drain(c, 52))).toEqual(['reqack 1 r0']);
    c.handle(dg(ok(1)), 53);
    expect(c.phase).toBe('done');
    expect(
      events(c)
        .filter((e) => e.kind !== 'connected')
        .map((e) => e.kind),
    ).toEqual(['started', 'ending', 'complete', 'done']);
    expect(c.receivers()[0]!.state).toBe('complete');
    // One data slice, one round beyond the first; every answer 1 ms after its REQACK (bucket
    // [1, 2) ms); first pass at once (t = 50), repair from its REQACK (50) to the OK (52).
    expect(c.stats.slicesAcked).toBe(1);
    expect(c.stats.sliceRounds.slice(0, 3)).toEqual([0, 1, 0]);
    expect(c.stats.answerDelayMs).toEqual([0, 3, 0, 0, 0, 0, 0, 0, 0]);
    expect(c.stats.firstPassMs).toBe(0);
    expect(c.stats.repairMs).toBe(2);
  });

  it("a stale RETRANSMIT (older round) adds only blocks not re-sent since, and is not this round's answer", () => {
    const c = started(8 * B);
    drain(c, 50);
    c.handle(dg(retransmit(0, 0, [1], 8)), 51);
    expect(kinds(drain(c, 51))).toEqual(['data 0.1', 'reqack 0 r1']);
    // A late second answer to round 0 misses 1 (re-sent in round 0: on its way) and 2 (never re-sent).
    c.handle(dg(retransmit(0, 0, [1, 2], 8)), 52);
    expect(c.stats.drops['late-retransmit']).toBe(1);
    expect(kinds(drain(c, 52))).toEqual(['data 0.2']);
    // Round 1 still waits for an answer: no REQACK until it comes, or the round times out at
    // 3 x the smoothed answer delay (10 ms, then one answer after 1 ms).
    expect(c.pollTimeout()).toBe(51 + 3 * (0.875 * 10 + 0.125 * 1));
    c.handle(dg(retransmit(0, 1, [2], 8)), 53);
    // Its answer to round 1 misses 2, which round 1 already re-sent: nothing more, the next round.
    expect(kinds(drain(c, 53))).toEqual(['reqack 0 r2']);
    expect(c.stats.rexmitBlocks).toBe(2);
  });

  it('a RETRANSMIT for a round not yet sent is dropped and repairs nothing', () => {
    const c = started(8 * B);
    drain(c, 50);
    c.handle(dg(retransmit(0, 5, [1], 8)), 51);
    expect(c.stats.drops['retransmit-future-round']).toBe(1);
    expect(kinds(drain(c, 51))).toEqual([]);
    expect(c.stats.rexmitBlocks).toBe(0);
  });

  it('REQACK copies go back to back, and the REQACK goes again to a receiver silent for 2 x the answer delay: nothing at deadline - 1', () => {
    const c = started(8 * B, { reqackCopies: 2, reqackRepeatMinMs: 2 });
    expect(kinds(drain(c, 50)).slice(-3)).toEqual(['data 0.7', 'reqack 0 r0', 'reqack 0 r0']);
    expect(c.stats.reqackRepeats).toBe(1);
    // Smoothed answer delay 10 ms: again at 50 + 2 x 10, before the round's timeout at 50 + 3 x 10.
    expect(c.pollTimeout()).toBe(70);
    c.handleTimeout(69);
    expect(kinds(drain(c, 69))).toEqual([]);
    c.handleTimeout(70);
    expect(kinds(drain(c, 70))).toEqual(['reqack 0 r0']);
    expect(c.stats.reqackRepeats).toBe(2);
    // The next repeat would wait 40 ms, past the timeout: the round times out at 80 instead.
    expect(c.pollTimeout()).toBe(80);
    // Both copies answered: the second answer adds nothing already re-sent.
    c.handle(dg(retransmit(0, 0, [4], 8)), 71);
    c.handle(dg(retransmit(0, 0, [4], 8)), 71);
    expect(kinds(drain(c, 71))).toEqual(['data 0.4', 'reqack 0 r1', 'reqack 0 r1']);
    expect(c.stats.rexmitBlocks).toBe(1);
  });

  it("readySet: after an OK the next REQACK carries the receiver's bit, so it stays silent", () => {
    const c = core({}, 2);
    c.handleTimeout(0);
    drain(c, 0);
    c.handle(dg(connectReq(), A), 0);
    c.handle(dg(connectReq(), C), 0);
    c.handleTimeout(50);
    c.handle({ kind: 'slice', bytes: new Uint8Array(8 * B) }, 50);
    drain(c, 50);
    c.handle(dg(ok(0), A), 51);
    c.handle(dg(retransmit(0, 0, [5], 8), C), 51);
    const ts = drain(c, 51);
    expect(kinds(ts)).toEqual(['data 0.5', 'reqack 0 r1 ready']);
    const r = decodeUdpcastDatagram(ts[1]!.parts[0]!, B);
    expect(r.ok && r.value.kind === 'reqack' && bitIsSet(r.value.msg.readySet, 0) && !bitIsSet(r.value.msg.readySet, 1)).toBe(true);
  });

  it('a silent receiver: a round times out at roundMinMs, and after retriesUntilDrop silent rounds it is dropped', () => {
    const c = started(8 * B);
    drain(c, 50);
    // roundMinMs 5 in the simulator's config; srtt 10 → timeout 30 ms.
    expect(c.pollTimeout()).toBe(80);
    c.handleTimeout(79);
    expect(drain(c, 79)).toEqual([]);
    c.handleTimeout(80);
    expect(kinds(drain(c, 80))).toEqual(['reqack 0 r1']);
    c.handleTimeout(110);
    drain(c, 110);
    c.handleTimeout(140);
    expect(c.receivers()[0]!.state).toBe('dropped');
    expect(c.receivers()[0]!.detail).toMatch(/no answer to 3 REQACK rounds/);
    expect(c.stats.roundTimeouts).toBe(3);
    expect(c.phase).toBe('done');
  });

  it('after the start, CONNECT_REQ gets no reply (a stock receiver cannot join late), once reported per address', () => {
    const c = started(8 * B);
    drain(c, 50);
    events(c);
    c.handle(dg(connectReq(), C), 60);
    c.handle(dg(connectReq(), C), 61);
    expect(kinds(drain(c, 61))).toEqual([]);
    expect(events(c)).toEqual([{ kind: 'late-connect', address: C }]);
    expect(c.stats.drops['late-connect-req']).toBe(2);
  });

  it('DISCONNECT mid-transfer: left, named, and no longer waited for', () => {
    const c = core({}, 2);
    c.handleTimeout(0);
    drain(c, 0);
    c.handle(dg(connectReq(), A), 0);
    c.handle(dg(connectReq(), C), 0);
    c.handleTimeout(50);
    c.handle({ kind: 'slice', bytes: new Uint8Array(8 * B) }, 50);
    c.handle({ kind: 'eof' }, 50);
    drain(c, 50);
    const d = new Uint8Array(4);
    encodeDisconnect({}, d);
    c.handle(dg(d, C), 51);
    c.handle(dg(ok(0), A), 52);
    expect(kinds(drain(c, 52))).toEqual(['reqack 1 r0']);
    expect(c.receivers().map((r) => r.state)).toEqual(['connected', 'left']);
  });
});
