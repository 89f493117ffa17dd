// SenderDriver with its real SenderCore, over in-memory sockets (support/fake-udp.ts), an
// in-memory source and a fake clock: the driver's own jobs, seen from outside. It re-arms its
// one timer to the core's pollTimeout(), sends everything pollTransmit() hands it from the
// right socket to the right place and in order (waiting for onDrain when the data socket is
// full), and at the end closes its sockets and the source once. Geometry (support/cores.ts):
// 100-byte blocks, 4 a slice; a receiver whose JOIN says 1000 bytes of receive buffer gets a
// 16-packet window.
//
// Only setTimeout, clearTimeout and Date are faked; the driver's setImmediate stays real (an
// immediate under fake timers would run 1 ms of fake time late and move every deadline).
// Between steps, settle() lets the real event loop run the driver's immediates and the
// source's promises while the fake clock stands still.

import { createHash } from 'node:crypto';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MessageType } from '../../../protocol/header.js';
import { Reason } from '../../../protocol/reasons.js';
import { type SenderConfig, SenderCore } from '../../../sender/core.js';
import { type Linger, SenderDriver, type SenderNetConfig, type SenderOutcome } from '../../../sender/driver.js';
import type { Source } from '../../../sender/source-types.js';
import { concat, pattern } from '../../support/bytes.js';
import { decode, only, senderConfig, types } from '../../support/cores.js';
import { DATA_GROUP, DATA_PORT, joinBytes, leaveBytes, rcv, reportBytes, statusBytes } from '../../support/datagrams.js';
import { type FakeUdpSocket, fakeUdp } from '../../support/fake-udp.js';

const RDV_GROUP = '239.192.67.2';
const PORTBASE = 9000;
const NET: SenderNetConfig = { interfaceAddress: undefined, rdvGroup: RDV_GROUP, portbase: PORTBASE, ttl: 1, io: 'dgram' };
const GROUP = { port: PORTBASE + 1, address: RDV_GROUP } as const;
const R0 = rcv(0);

/** An image in memory: every read completes on the next microtask. */
class MemorySource implements Source {
  readonly description = 'memory';
  closeCalls = 0;
  private pos = 0;
  constructor(private readonly image: Uint8Array) {}
  get sizeBytes(): number {
    return this.image.byteLength;
  }
  async read(n: number): Promise<Uint8Array | null> {
    if (this.pos >= this.image.byteLength) return null;
    const out = this.image.slice(this.pos, this.pos + n);
    this.pos += out.byteLength;
    return out;
  }
  async close(): Promise<void> {
    this.closeCalls++;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Moves the fake clock by `ms`, firing the timers due, then settles. */
async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  await settle();
}

type LogRecord = { readonly evt?: string; readonly [k: string]: unknown };

interface Rig {
  readonly driver: SenderDriver;
  /** Control: HELLO, START, REQACK, END, DROP to the group; ACCEPT, REPORT_ACK to one receiver. */
  readonly ctl: FakeUdpSocket;
  readonly rdv: FakeUdpSocket;
  readonly data: FakeUdpSocket;
  readonly sockets: readonly FakeUdpSocket[];
  readonly source: MemorySource;
  readonly logs: LogRecord[];
  result(): SenderOutcome | undefined;
  outcome: Promise<SenderOutcome>;
  /** A datagram from receiver 0 to the control socket (JOIN, STATUS, REPORT, LEAVE). */
  fromReceiver(bytes: Uint8Array): Promise<void>;
  /** Control datagrams sent so far: type name and destination. */
  control(): { type: string; port: number | undefined; address: string | undefined }[];
  /** DATA seqs sent so far on the data socket. */
  dataSeqs(): number[];
}

async function startSender(over: Partial<SenderConfig>, image: Uint8Array, linger: Linger = { ms: 0, minReceivers: 0 }): Promise<Rig> {
  const { factory, sockets } = fakeUdp();
  const source = new MemorySource(image);
  const logs: LogRecord[] = []; // UNBOUNDED: one test's records
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogRecord) });
  const driver = new SenderDriver(senderConfig({ imageBytes: image.byteLength, ...over }), NET, factory, source, log, undefined, () => Date.now(), linger);
  let result: SenderOutcome | undefined;
  const outcome = driver.run().then((o) => {
    result = o;
    return o;
  });
  await settle();
  expect(sockets).toHaveLength(3);
  const [ctl, rdv, data] = sockets as [FakeUdpSocket, FakeUdpSocket, FakeUdpSocket];
  return {
    driver,
    ctl,
    rdv,
    data,
    sockets,
    source,
    logs,
    outcome,
    result: () => result,
    fromReceiver: async (bytes) => {
      ctl.deliver(bytes, R0.from.address, R0.from.port);
      await settle();
    },
    control: () => ctl.sends.map((s) => ({ type: types([decode(s.bytes)])[0]!, port: s.port, address: s.address })),
    dataSeqs: () => only(data.sent.map(decode), MessageType.Data).map((d) => d.seq),
  };
}

const count = (xs: readonly { type: string }[], type: string): number => xs.filter((x) => x.type === type).length;
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Everything is over: each socket closed once, the source once, no timer left. */
function expectClosedOnce(rig: Rig): void {
  expect(rig.sockets.map((s) => s.closeCalls)).toEqual([1, 1, 1]);
  expect(rig.source.closeCalls).toBe(1);
  expect(vi.getTimerCount()).toBe(0);
}

describe('SenderDriver loop', () => {
  /** Every Transmit the core handed out, in order, with its bytes as they came out. */
  let polled: { to: 'data' | 'control' | { address: string; port: number }; bytes: Uint8Array }[];
  /** The `now` of every handleTimeout(). */
  let wakes: number[];

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.setSystemTime(0);
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    polled = [];
    wakes = [];
    const handleTimeout = SenderCore.prototype.handleTimeout;
    vi.spyOn(SenderCore.prototype, 'handleTimeout').mockImplementation(function (this: SenderCore, now: number) {
      wakes.push(now);
      handleTimeout.call(this, now);
    });
    const pollTransmit = SenderCore.prototype.pollTransmit;
    vi.spyOn(SenderCore.prototype, 'pollTransmit').mockImplementation(function (this: SenderCore, now: number) {
      const t = pollTransmit.call(this, now);
      if (t !== undefined) polled.push({ to: t.to, bytes: concat(t.parts) });
      return t;
    });
  });

  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  /** What the core handed out, as each socket should have sent it (data: to the connected group). */
  function expectedSends(): { ctl: { bytes: Uint8Array; port: number; address: string }[]; data: Uint8Array[] } {
    const ctl: { bytes: Uint8Array; port: number; address: string }[] = [];
    const data: Uint8Array[] = [];
    for (const t of polled) {
      if (t.to === 'data') data.push(t.bytes);
      else if (t.to === 'control') ctl.push({ bytes: t.bytes, ...GROUP });
      else ctl.push({ bytes: t.bytes, port: t.to.port, address: t.to.address });
    }
    return { ctl, data };
  }

  describe('the timer', () => {
    it('HELLO at once, then every helloIntervalMs, at its deadline and not a millisecond before; one timer pending', async () => {
      const rig = await startSender({ helloIntervalMs: 100 }, pattern(4000));
      expect(rig.ctl.binds).toEqual([{ port: 0, address: undefined }]);
      expect(rig.rdv.binds).toEqual([{ port: PORTBASE + 1, address: RDV_GROUP }]);
      expect(rig.rdv.memberships).toEqual([{ group: RDV_GROUP, interfaceAddress: undefined }]);
      expect(rig.data.connects).toEqual([{ port: DATA_PORT, address: DATA_GROUP }]);
      expect(rig.control()).toEqual([{ type: 'HELLO', ...GROUP }]);
      expect(vi.getTimerCount()).toBe(1);
      for (const t of [100, 200, 300]) {
        await advance(99);
        expect(count(rig.control(), 'HELLO')).toBe(t / 100);
        expect(vi.getTimerCount()).toBe(1);
        await advance(1);
        expect(count(rig.control(), 'HELLO')).toBe(t / 100 + 1);
        expect(vi.getTimerCount()).toBe(1);
      }
      expect(wakes).toEqual([0, 100, 200, 300]);
      expect(rig.data.sent).toEqual([]);
      rig.driver.abort('test over');
      await rig.outcome;
      expectClosedOnce(rig);
    });

    it('after a JOIN: ACCEPT to the receiver alone, and START at first join + --min-wait, not before', async () => {
      const rig = await startSender({ helloIntervalMs: 100, minReceivers: 1, minWaitMs: 30 }, pattern(4000));
      await advance(50);
      await rig.fromReceiver(joinBytes({ receiverId: R0.id }));
      expect(rig.control()).toEqual([
        { type: 'HELLO', ...GROUP },
        { type: 'ACCEPT', port: R0.from.port, address: R0.from.address },
      ]);
      expect(vi.getTimerCount()).toBe(1);
      await advance(29);
      expect(count(rig.control(), 'START')).toBe(0);
      expect(rig.driver.sender.currentPhase).toBe('announcing');
      expect(vi.getTimerCount()).toBe(1);
      await advance(1);
      expect(rig.control().slice(2, 5)).toEqual(Array(3).fill({ type: 'START', ...GROUP }));
      expect(rig.driver.sender.currentPhase).toBe('transferring');
      expect(wakes).toContain(80);
      expect(wakes.filter((t) => t > 0 && t < 80)).toEqual([]);
      expect(vi.getTimerCount()).toBe(1);
      rig.driver.abort('test over');
      await rig.outcome;
      expectClosedOnce(rig);
    });

    it('below --min-receivers: START at first join + --max-wait, not before', async () => {
      const rig = await startSender({ helloIntervalMs: 1000, minReceivers: 2, maxWaitMs: 70 }, pattern(4000));
      await advance(10);
      await rig.fromReceiver(joinBytes({ receiverId: R0.id }));
      expect(vi.getTimerCount()).toBe(1);
      await advance(69);
      expect(rig.driver.sender.currentPhase).toBe('announcing');
      expect(vi.getTimerCount()).toBe(1);
      await advance(1);
      expect(rig.driver.sender.currentPhase).toBe('transferring');
      expect(wakes).toEqual([0, 80]);
      expect(count(rig.control(), 'START')).toBe(3);
      expect(vi.getTimerCount()).toBe(1);
      rig.driver.abort('test over');
      await rig.outcome;
      expectClosedOnce(rig);
    });

    it('a full window: REQACK reqackIntervalMs after the stall and every reqackIntervalMs, each at its deadline', async () => {
      const rig = await startSender({ helloIntervalMs: 1000, minReceivers: 1 }, pattern(4000));
      await advance(5);
      await rig.fromReceiver(joinBytes({ receiverId: R0.id }));
      // Started at 5: the 16-packet window went out and the sender is stalled there.
      expect(rig.dataSeqs()).toEqual(range(1, 16));
      expect(rig.driver.sender.stats.windowStalls).toBe(1);
      expect(vi.getTimerCount()).toBe(1);
      for (const [t, n] of [
        [25, 1],
        [45, 2],
        [65, 3],
      ] as const) {
        await advance(t - 1 - Date.now());
        expect(count(rig.control(), 'REQACK')).toBe(n - 1);
        expect(vi.getTimerCount()).toBe(1);
        await advance(1);
        expect(count(rig.control(), 'REQACK')).toBe(n);
        expect(rig.control().at(-1)).toEqual({ type: 'REQACK', ...GROUP });
        expect(vi.getTimerCount()).toBe(1);
      }
      expect(wakes).toEqual([0, 25, 45, 65]);
      expect(rig.driver.sender.stats.reqacks).toBe(3);
      rig.driver.abort('test over');
      await rig.outcome;
      expectClosedOnce(rig);
    });
  });

  describe('control after DATA', () => {
    it('a control message waits until the DATA flushed before it is in the kernel (settled()), then goes first', async () => {
      const rig = await startSender({ helloIntervalMs: 1000, minReceivers: 1 }, pattern(4000));
      await advance(5);
      await rig.fromReceiver(joinBytes({ receiverId: R0.id }));
      expect(rig.dataSeqs()).toEqual(range(1, 16));
      // The data socket's send thread still holds DATA when the REQACK falls due at 25.
      rig.data.holdSettled();
      await advance(25 - Date.now());
      expect(count(rig.control(), 'REQACK')).toBe(0);
      expect(rig.driver.sender.stats.reqacks).toBe(1);
      await advance(3);
      expect(count(rig.control(), 'REQACK')).toBe(0);
      rig.data.releaseSettled();
      await settle();
      expect(count(rig.control(), 'REQACK')).toBe(1);
      expect(rig.control().at(-1)).toEqual({ type: 'REQACK', ...GROUP });
      rig.driver.abort('test over');
      await rig.outcome;
      expectClosedOnce(rig);
    });

    it('a control message still held when the session ends goes out with the last ones', async () => {
      const rig = await startSender({ helloIntervalMs: 1000, minReceivers: 1 }, pattern(4000));
      await advance(5);
      await rig.fromReceiver(joinBytes({ receiverId: R0.id }));
      rig.data.holdSettled();
      await advance(25 - Date.now());
      expect(count(rig.control(), 'REQACK')).toBe(0);
      rig.driver.abort('test over');
      await rig.outcome;
      expect(count(rig.control(), 'REQACK')).toBe(1);
      expectClosedOnce(rig);
    });
  });

  describe('the drain', () => {
    it('a whole transfer to one receiver: every datagram to its place in order, through a full data socket, verified', async () => {
      const image = pattern(4000, 3);
      const digest = new Uint8Array(createHash('sha256').update(image).digest());
      const rig = await startSender({ helloIntervalMs: 1000, minReceivers: 1 }, image);
      // The socket calls in order: D a DATA sent (a real socket may batch it), F the data
      // socket flushed, C a control datagram sent. Control must not overtake the data before
      // it (END after the last DATA): no C with a D since the last F.
      const calls: string[] = []; // UNBOUNDED: one test's calls
      /** After this many more DATA sends the data socket is full (undefined: never). */
      let blockAfter: number | undefined;
      const dataSend = rig.data.send.bind(rig.data);
      vi.spyOn(rig.data, 'send').mockImplementation((parts, port, address) => {
        dataSend(parts, port, address);
        calls.push('D');
        if (blockAfter !== undefined && --blockAfter === 0) rig.data.block();
      });
      const dataFlush = rig.data.flush.bind(rig.data);
      vi.spyOn(rig.data, 'flush').mockImplementation(() => {
        dataFlush();
        calls.push('F');
      });
      const ctlSend = rig.ctl.send.bind(rig.ctl);
      vi.spyOn(rig.ctl, 'send').mockImplementation((parts, port, address) => {
        ctlSend(parts, port, address);
        calls.push('C');
      });
      await advance(5);
      await rig.fromReceiver(joinBytes({ receiverId: R0.id }));
      expect(rig.dataSeqs()).toEqual(range(1, 16));

      // The kernel's buffer is full when the STATUS that opens the window comes: nothing
      // goes until the socket drains, then all of it, in order.
      rig.data.block();
      await rig.fromReceiver(statusBytes({ receiverId: R0.id, seenSeq: 16, deliveredSlices: 4, bytesWritten: 1600 }));
      expect(rig.dataSeqs()).toEqual(range(1, 16));
      await advance(1);
      expect(rig.dataSeqs()).toEqual(range(1, 16));
      rig.data.unblock();
      await settle();
      expect(rig.dataSeqs()).toEqual(range(1, 32));

      // The buffer fills in the middle of a burst (after seq 35): the rest, and END behind
      // it, wait for the drain.
      blockAfter = 3;
      await rig.fromReceiver(statusBytes({ receiverId: R0.id, seenSeq: 32, deliveredSlices: 8, bytesWritten: 3200 }));
      expect(rig.dataSeqs()).toEqual(range(1, 35));
      expect(count(rig.control(), 'END')).toBe(0);
      rig.data.unblock();
      await settle();
      expect(rig.dataSeqs()).toEqual(range(1, 40));
      // The first pass is over: END on the group, after the last DATA, and it repeats.
      const end = only(rig.ctl.sent.map(decode), MessageType.End);
      expect(end).toHaveLength(1);
      expect(end[0]).toMatchObject({ totalBytes: 4000, totalSlices: 10, digest });
      expect(rig.control().at(-1)).toEqual({ type: 'END', ...GROUP });
      expect(vi.getTimerCount()).toBe(1);
      await advance(49);
      expect(count(rig.control(), 'END')).toBe(1);
      await advance(1);
      expect(count(rig.control(), 'END')).toBe(2);
      expect(vi.getTimerCount()).toBe(1);

      await rig.fromReceiver(statusBytes({ receiverId: R0.id, seenSeq: 40, deliveredSlices: 10, bytesWritten: 4000 }));
      await rig.fromReceiver(reportBytes({ receiverId: R0.id, bytesWritten: 4000, digest }));
      const out = await rig.outcome;

      // What each socket sent is exactly what the core handed out, in the same order.
      const want = expectedSends();
      expect(rig.data.sent).toEqual(want.data);
      expect(rig.data.sends.every((s) => s.port === undefined && s.address === undefined)).toBe(true);
      expect(rig.ctl.sends).toEqual(want.ctl);
      expect(rig.rdv.sent).toEqual([]);
      expect(calls.filter((c) => c === 'D')).toHaveLength(40);
      expect(calls.join('').match(/D[^F]*C/)).toBeNull();
      // The DATA carry the image.
      const blocks = only(rig.data.sent.map(decode), MessageType.Data);
      expect(concat(blocks.map((d) => d.payload))).toEqual(image);
      expect(rig.control().at(-1)).toEqual({ type: 'REPORT_ACK', port: R0.from.port, address: R0.from.address });

      expect(out.ok).toBe(true);
      expect(out.error).toBeUndefined();
      expect(out.bytes).toBe(4000);
      expect(out.digest).toBe(Buffer.from(digest).toString('hex'));
      expect(out.receivers.map((r) => [r.id, r.state])).toEqual([[R0.id, 'verified']]);
      expect(out.stats.dataPackets).toBe(40);
      expect(out.io.data.datagramsSent).toBe(40);
      expect(rig.logs.filter((l) => l.evt === 'transfer.done')).toHaveLength(1);
      expectClosedOnce(rig);
    });
  });

  describe('shutdown', () => {
    /** One receiver's whole session (400 bytes), up to its REPORT. */
    async function oneReport(linger: Linger): Promise<{ rig: Rig; digest: Uint8Array }> {
      const image = pattern(400, 5);
      const digest = new Uint8Array(createHash('sha256').update(image).digest());
      const rig = await startSender({ minReceivers: 1 }, image, linger);
      await rig.fromReceiver(joinBytes({ receiverId: R0.id }));
      expect(rig.dataSeqs()).toEqual(range(1, 4));
      await rig.fromReceiver(statusBytes({ receiverId: R0.id, seenSeq: 4, deliveredSlices: 1, bytesWritten: 400 }));
      await rig.fromReceiver(reportBytes({ receiverId: R0.id, bytesWritten: 400, digest }));
      expect(rig.driver.sender.currentPhase).toBe('done');
      expect(count(rig.control(), 'REPORT_ACK')).toBe(1);
      return { rig, digest };
    }

    it('a session of no more receivers than linger.minReceivers: the sockets close at once', async () => {
      const { rig } = await oneReport({ ms: 400, minReceivers: 1 });
      const out = await rig.outcome;
      expect(out.ok).toBe(true);
      expectClosedOnce(rig);
    });

    it('linger: a REPORT repeated after the session (its REPORT_ACK lost) is acknowledged; the sockets close linger.ms later', async () => {
      const { rig, digest } = await oneReport({ ms: 400, minReceivers: 0 });
      // Done, but still there: the receiver did not hear that ACK and asks again.
      await advance(100);
      expect(rig.result()).toBeUndefined();
      expect(rig.sockets.map((x) => x.closeCalls)).toEqual([0, 0, 0]);
      await rig.fromReceiver(reportBytes({ receiverId: R0.id, bytesWritten: 400, digest }));
      expect(count(rig.control(), 'REPORT_ACK')).toBe(2);
      expect(rig.control().at(-1)).toEqual({ type: 'REPORT_ACK', port: R0.from.port, address: R0.from.address });
      expect(rig.data.sent.length).toBe(4);
      await advance(299);
      expect(rig.result()).toBeUndefined();
      await advance(1);
      const out = await rig.outcome;
      expect(out.ok).toBe(true);
      expect(out.receivers.map((r) => [r.id, r.state])).toEqual([[R0.id, 'verified']]);
      expectClosedOnce(rig);
    });

    it('the only receiver leaves: ends once, not ok, with its reason; everything closed once, no timer', async () => {
      const rig = await startSender({ minReceivers: 1 }, pattern(4000));
      await rig.fromReceiver(joinBytes({ receiverId: R0.id }));
      expect(rig.driver.sender.currentPhase).toBe('transferring');
      await rig.fromReceiver(leaveBytes({ receiverId: R0.id, reason: Reason.Interrupted, detail: 'SIGINT' }));
      const out = await rig.outcome;
      expect(out.ok).toBe(false);
      expect(out.error).toBeUndefined();
      expect(out.receivers).toHaveLength(1);
      expect(out.receivers[0]).toMatchObject({ state: 'left', reason: Reason.Interrupted, detail: 'SIGINT' });
      expect(rig.logs.filter((l) => l.evt === 'transfer.done')).toHaveLength(1);
      expectClosedOnce(rig);
      // Late datagrams and timers change nothing.
      await rig.fromReceiver(statusBytes({ receiverId: R0.id, seenSeq: 16 }));
      await advance(5000);
      expect(rig.sockets.map((s) => s.closeCalls)).toEqual([1, 1, 1]);
      expect(rig.logs.filter((l) => l.evt === 'transfer.done')).toHaveLength(1);
    });

    it('a receiver silent through the END rounds is dropped at the last one; DROP goes out before the sockets close', async () => {
      const image = pattern(400);
      const rig = await startSender({ helloIntervalMs: 1000, minReceivers: 1, imageBytes: 400 }, image);
      await advance(2);
      await rig.fromReceiver(joinBytes({ receiverId: R0.id }));
      expect(rig.dataSeqs()).toEqual(range(1, 4));
      expect(count(rig.control(), 'END')).toBe(1);
      for (const t of [52, 102, 152]) {
        await advance(t - Date.now());
        expect(vi.getTimerCount()).toBe(1);
      }
      expect(count(rig.control(), 'END')).toBe(4);
      expect(rig.result()).toBeUndefined();
      await advance(49);
      expect(rig.result()).toBeUndefined();
      await advance(1);
      const out = await rig.outcome;
      expect(only(rig.ctl.sent.map(decode), MessageType.Drop)).toEqual([{ sessionId: expect.any(Number), receiverId: R0.id, reason: Reason.NoAnswer }]);
      // The core queues the round's last END behind the DROP; finish() sends both.
      expect(rig.control().map((c) => c.type)).toEqual(['HELLO', 'ACCEPT', 'START', 'START', 'START', 'END', 'END', 'END', 'END', 'DROP', 'END']);
      expect(rig.ctl.sends).toEqual(expectedSends().ctl);
      expect(out.ok).toBe(false);
      expect(out.error).toBeUndefined();
      expect(out.receivers[0]).toMatchObject({ state: 'dropped', reason: Reason.NoAnswer, detail: 'no answer after 2 retries' });
      expect(wakes).toEqual([0, 52, 102, 152, 202]);
      expectClosedOnce(rig);
    });

    it('abort (a signal) called three times ends it once: the first detail, one set of DROPs, everything closed once', async () => {
      const rig = await startSender({ minReceivers: 1 }, pattern(4000));
      await rig.fromReceiver(joinBytes({ receiverId: R0.id }));
      rig.driver.abort('interrupted (SIGINT)');
      rig.driver.abort('terminated (SIGTERM)');
      const out = await rig.outcome;
      rig.driver.abort('interrupted (SIGINT)');
      await settle();
      expect(out.ok).toBe(false);
      expect(out.error).toBe('interrupted (SIGINT)');
      expect(count(rig.control(), 'DROP')).toBe(3);
      expect(rig.control().slice(-3)).toEqual(Array(3).fill({ type: 'DROP', ...GROUP }));
      expect(out.receivers[0]).toMatchObject({ state: 'failed', reason: Reason.SenderAbort });
      expect(rig.logs.filter((l) => l.evt === 'transfer.done')).toHaveLength(1);
      expectClosedOnce(rig);
    });

    it.each([
      ['control', 0, 'socket: '],
      ['rendezvous', 1, 'rendezvous socket: '],
      ['data', 2, 'data socket: '],
    ] as const)('an error on the %s socket ends it once with one line, DROPs sent, everything closed once', async (_name, i, prefix) => {
      const rig = await startSender({ minReceivers: 1 }, pattern(4000));
      await rig.fromReceiver(joinBytes({ receiverId: R0.id }));
      rig.sockets[i]!.fail(new Error('sendmsg failed:\n  ENETUNREACH'));
      rig.sockets[i]!.fail(new Error('again'));
      const out = await rig.outcome;
      await settle();
      expect(out.ok).toBe(false);
      expect(out.error).toBe(`${prefix}sendmsg failed: ENETUNREACH`);
      expect(count(rig.control(), 'DROP')).toBe(3);
      expect(rig.logs.filter((l) => l.evt === 'sender.error').map((l) => l.detail)).toEqual([`${prefix}sendmsg failed: ENETUNREACH`, `${prefix}again`]);
      expect(rig.logs.filter((l) => l.evt === 'transfer.done')).toHaveLength(1);
      expectClosedOnce(rig);
    });
  });
});
