// ReceiverDriver with its real ReceiverCore, over in-memory sockets (support/fake-udp.ts), an
// in-memory sink and a fake clock: the driver's own jobs, seen from outside. It re-arms its one
// timer to the core's pollTimeout(), sends every datagram the core queues from its feedback
// socket to where the core says (NAK to the rendezvous group, the rest to the sender's control
// endpoint), writes every delivered slice in order, one write at a time, and at the end closes
// its sockets and settles the sink once. The session (support/datagrams.ts helloBytes):
// 100-byte blocks, 4 a slice, 950 bytes = slices of 400, 400 and 150.
//
// Only setTimeout, clearTimeout and Date are faked. The driver's setImmediate stays real: under
// fake timers an immediate queued while the clock advances runs 1 ms of fake time late, which
// would move every deadline the core computes. Between steps, settle() lets the real event
// loop run the driver's immediates and the sink's promises; the fake clock stands still then.
// Math.random is 0.5, so a NAK's backoff is exact: nakBackoffMs (40) * (3 + 0.5) / 4 = 35 ms
// for a need of one block (receiver/core/nak-scheduler.ts nakTime).

import { createHash } from 'node:crypto';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IoError } from '../../../common/errors.js';
import { MessageType } from '../../../protocol/header.js';
import { DATA_FLAG_FINAL_SLICE, DATA_FLAG_LAST } from '../../../protocol/messages/data.js';
import { Outcome } from '../../../protocol/messages/report.js';
import { STATUS_FLAG_COMPLETE } from '../../../protocol/messages/status.js';
import { Reason } from '../../../protocol/reasons.js';
import { ReceiverCore, type ReceiverEvent, type ReceiverTransmit } from '../../../receiver/core.js';
import { type ReceiverCoreOptions, ReceiverDriver, type ReceiverNetConfig, type ReceiverOutcome } from '../../../receiver/driver.js';
import type { OffsetSink, Sink, SinkReport } from '../../../receiver/sink-types.js';
import { pattern } from '../../support/bytes.js';
import { decode, only, receiverConfig, types } from '../../support/cores.js';
import {
  acceptBytes,
  DATA_GROUP,
  DATA_PORT,
  dataBytes,
  endBytes,
  helloBytes,
  reportAckBytes,
  reqackBytes,
  SENDER,
  startBytes,
} from '../../support/datagrams.js';
import { type FakeUdpSocket, fakeUdp } from '../../support/fake-udp.js';

const IMAGE = pattern(950);
const SLICE_BYTES = [400, 400, 150];
const DIGEST = new Uint8Array(createHash('sha256').update(IMAGE).digest());
const RDV_GROUP = '239.192.67.2';
/** HELLO names DATA_PORT as the data port: the driver insists it is --portbase. */
const NET: ReceiverNetConfig = { interfaceAddress: undefined, rdvGroup: RDV_GROUP, portbase: DATA_PORT, ttl: 1, rcvBufBytes: 1 << 20, io: 'dgram' };
/**
 * The sender's sockets, as sender/driver.ts binds them: control and data on ephemeral ports
 * of their own, so the port our unicast goes to is not the rendezvous port (portbase + 1).
 */
const SENDER_CTL = { address: SENDER.address, port: 41_234 } as const;
const SENDER_DATA = { address: SENDER.address, port: 41_235 } as const;

function sliceOf(n: number): Uint8Array {
  return IMAGE.subarray(n * 400, n * 400 + SLICE_BYTES[n]!);
}

let seq = 0;

/** Data block `b` of slice `n`, as the sender sends it on the first pass. */
function block(n: number, b: number): Uint8Array {
  const nBlocks = Math.ceil(SLICE_BYTES[n]! / 100);
  const flags = (n === 2 ? DATA_FLAG_FINAL_SLICE : 0) | (b === nBlocks - 1 ? DATA_FLAG_LAST : 0);
  const payload = sliceOf(n).subarray(b * 100, (b + 1) * 100);
  return dataBytes({ seq: ++seq, sliceNo: n, sliceBytes: SLICE_BYTES[n]!, flags, stripe: 0, blockNo: b, payload });
}

/** Every data block of slice `n`. */
function slice(n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let b = 0; b * 100 < SLICE_BYTES[n]!; b++) out.push(block(n, b));
  return out;
}

/**
 * An in-memory sink that records every call. With `held`, each write waits until the test
 * calls release(), so the driver's queue behind a slow disk can be seen.
 */
class MemorySink implements Sink {
  readonly description = 'memory';
  readonly calls: string[] = []; // UNBOUNDED: one test's calls
  readonly writes: Uint8Array[] = []; // UNBOUNDED: one test's slices
  held = false;
  /** Writes under way at once, at most (the Sink contract allows one). */
  maxConcurrentWrites = 0;
  failNextWrite: Error | undefined;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = []; // UNBOUNDED: one test's writes

  async write(buf: Uint8Array): Promise<void> {
    this.calls.push('write');
    this.inFlight++;
    this.maxConcurrentWrites = Math.max(this.maxConcurrentWrites, this.inFlight);
    try {
      if (this.held) await new Promise<void>((resolve) => this.waiting.push(resolve));
      const e = this.failNextWrite;
      this.failNextWrite = undefined;
      if (e !== undefined) throw e;
      this.writes.push(buf.slice());
    } finally {
      this.inFlight--;
    }
  }

  /** Lets the oldest held write complete. */
  release(): void {
    const r = this.waiting.shift();
    if (r === undefined) throw new Error('no write is waiting');
    r();
  }

  get waitingWrites(): number {
    return this.waiting.length;
  }

  get bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.writes));
  }

  async finish(): Promise<void> {
    this.calls.push('finish');
  }
  async commit(): Promise<void> {
    this.calls.push('commit');
  }
  async discard(): Promise<void> {
    this.calls.push('discard');
  }
  report(): SinkReport {
    return {};
  }
  offsetSink(): OffsetSink | string {
    return 'the memory sink takes the image in order';
  }
}

/** Lets the real event loop run the driver's immediates and the sink's promises (the fake clock stands still). */
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
  readonly driver: ReceiverDriver;
  readonly ctl: FakeUdpSocket;
  readonly data: FakeUdpSocket;
  readonly fb: FakeUdpSocket;
  readonly probe: FakeUdpSocket;
  /** Every socket the driver made. */
  readonly sockets: readonly FakeUdpSocket[];
  readonly sink: MemorySink;
  readonly logs: LogRecord[];
  readonly events: ReceiverEvent[];
  /** The outcome once run() resolved. */
  result(): ReceiverOutcome | undefined;
  /** A datagram the sender sends the rendezvous group, on the control socket (HELLO, START, END). */
  fromSender(bytes: Uint8Array): Promise<void>;
  /** The sender's answer to this receiver alone, on the feedback socket it came from (ACCEPT, REPORT_ACK). */
  answerFromSender(bytes: Uint8Array): Promise<void>;
  /** DATA from the sender on the data socket. */
  dataFromSender(bytes: readonly Uint8Array[]): Promise<void>;
  /** The messages sent so far (all from the feedback socket), decoded. */
  sent(): ReturnType<typeof decode>[];
}

const CORE_OPTIONS: ReceiverCoreOptions = (() => {
  const { receiverId: _id, rcvBufBytes: _rcv, random: _random, ...rest } = receiverConfig();
  return rest;
})();

async function startReceiver(over: Partial<ReceiverCoreOptions> = {}): Promise<Rig> {
  seq = 0;
  const { factory, sockets } = fakeUdp();
  const sink = new MemorySink();
  const logs: LogRecord[] = []; // UNBOUNDED: one test's records
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogRecord) });
  const events: ReceiverEvent[] = []; // UNBOUNDED: one test's events
  const driver = new ReceiverDriver(
    { ...CORE_OPTIONS, ...over },
    NET,
    factory,
    sink,
    log,
    (ev) => void events.push(ev),
    () => Date.now(),
  );
  let outcome: ReceiverOutcome | undefined;
  void driver.run().then((o) => {
    outcome = o;
  });
  await settle();
  // The constructor makes control, data and feedback; run() makes a throwaway that asks the receive buffer.
  const [ctl, data, fb, probe] = sockets;
  if (ctl === undefined || data === undefined || fb === undefined || probe === undefined) throw new Error(`the driver made ${sockets.length} sockets, not 4`);
  expect(sockets).toHaveLength(4);
  return {
    driver,
    ctl,
    data,
    fb,
    probe,
    sockets,
    sink,
    logs,
    events,
    result: () => outcome,
    fromSender: async (bytes) => {
      ctl.deliver(bytes, SENDER_CTL.address, SENDER_CTL.port);
      await settle();
    },
    answerFromSender: async (bytes) => {
      fb.deliver(bytes, SENDER_CTL.address, SENDER_CTL.port);
      await settle();
    },
    dataFromSender: async (list) => {
      for (const bytes of list) data.deliver(bytes, SENDER_DATA.address, SENDER_DATA.port);
      await settle();
    },
    sent: () => fb.sent.map(decode),
  };
}

/** HELLO, our ACCEPT and START at the current time: the receiver is receiving. */
async function joined(rig: Rig): Promise<void> {
  await rig.fromSender(helloBytes());
  await rig.answerFromSender(acceptBytes(rig.driver.receiverId));
  await rig.fromSender(startBytes(64));
  expect(rig.driver.receiver.currentState).toBe('receiving');
}

describe('ReceiverDriver', () => {
  /** What the core handed out of pollTransmit(), across all cores of the test, in order (the bytes copied as they came out). */
  let polled: ReceiverTransmit[];
  /** The `now` of every handleTimeout(): when the driver's timer woke the core. */
  let wakes: number[];

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.setSystemTime(0);
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    polled = [];
    wakes = [];
    const handleTimeout = ReceiverCore.prototype.handleTimeout;
    vi.spyOn(ReceiverCore.prototype, 'handleTimeout').mockImplementation(function (this: ReceiverCore, now: number) {
      wakes.push(now);
      handleTimeout.call(this, now);
    });
    const original = ReceiverCore.prototype.pollTransmit;
    vi.spyOn(ReceiverCore.prototype, 'pollTransmit').mockImplementation(function (this: ReceiverCore) {
      const t = original.call(this);
      if (t !== undefined) polled.push({ to: t.to, bytes: t.bytes.slice() });
      return t;
    });
  });

  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  /**
   * Everything the core queued went out on the feedback socket, in order, each where the core
   * said, and nothing is left; and where the core said is right: a NAK to the rendezvous group
   * (the other receivers hear it), every other message to the sender's control socket alone.
   */
  function expectAllSent(rig: Rig): void {
    expect(polled.length).toBeGreaterThan(0);
    expect(rig.fb.sends.map((s) => Buffer.from(s.bytes))).toEqual(polled.map((t) => Buffer.from(t.bytes)));
    const group = { port: NET.portbase + 1, address: RDV_GROUP };
    const sender = { port: SENDER_CTL.port, address: SENDER_CTL.address };
    rig.fb.sends.forEach((s, i) => {
      const type = decode(s.bytes).type;
      const where = type === MessageType.Nak ? group : sender;
      expect({ type, port: s.port, address: s.address }).toEqual({ type, ...where });
      expect(polled[i]!.to).toEqual(type === MessageType.Nak ? 'group' : sender);
    });
    expect(rig.ctl.sent).toEqual([]);
    expect(rig.data.sent).toEqual([]);
    expect(rig.probe.sent).toEqual([]);
  }

  /** Every socket the driver made closed exactly once. */
  function expectAllClosedOnce(rig: Rig): void {
    expect(rig.sockets.map((s) => s.closeCalls)).toEqual([1, 1, 1, 1]);
  }

  describe('its one timer follows the core', () => {
    it('binds the control socket to the group, and waits for a HELLO without a timer (no --start-timeout)', async () => {
      const rig = await startReceiver();
      expect(rig.ctl.binds).toEqual([{ port: NET.portbase + 1, address: RDV_GROUP }]);
      expect(rig.ctl.memberships).toEqual([{ group: RDV_GROUP, interfaceAddress: undefined }]);
      // Feedback: an ephemeral port of its own on the interface (any, here), in no group.
      expect(rig.fb.binds).toEqual([{ port: 0, address: undefined }]);
      expect(rig.fb.memberships).toEqual([]);
      expect(rig.probe.closeCalls).toBe(1);
      expect(rig.data.binds).toEqual([]);
      expect(rig.driver.receiver.pollTimeout()).toBeUndefined();
      expect(vi.getTimerCount()).toBe(0);
      await advance(60_000);
      expect(rig.ctl.sent).toEqual([]);
      expect(rig.fb.sent).toEqual([]);
      expect(rig.result()).toBeUndefined();
    });

    it('gives up at --start-timeout, not a millisecond before', async () => {
      const rig = await startReceiver({ startTimeoutMs: 2000 });
      expect(rig.driver.receiver.pollTimeout()).toBe(2000);
      expect(vi.getTimerCount()).toBe(1);
      await advance(1999);
      expect(rig.result()).toBeUndefined();
      await advance(1);
      expect(rig.result()).toMatchObject({ ok: false, reason: Reason.StartTimeout, detail: 'no sender found before --start-timeout' });
      // No session, nobody to tell: nothing sent.
      expect(rig.ctl.sent).toEqual([]);
      expect(rig.fb.sent).toEqual([]);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('after HELLO: JOIN at once, then every joinIntervalMs until ACCEPT, each at its deadline and not before', async () => {
      const rig = await startReceiver();
      await rig.fromSender(helloBytes());
      expect(types(rig.sent())).toEqual(['JOIN']);
      expect(only(rig.sent(), MessageType.Join)[0]!.receiverId).toBe(rig.driver.receiverId);
      // HELLO named the data group: the data socket is bound to it and joined.
      expect(rig.data.binds).toEqual([{ port: DATA_PORT, address: DATA_GROUP }]);
      expect(rig.data.memberships).toEqual([{ group: DATA_GROUP, interfaceAddress: undefined }]);
      expect(rig.driver.receiver.pollTimeout()).toBe(30);
      expect(vi.getTimerCount()).toBe(1);
      await advance(29);
      expect(types(rig.sent())).toEqual(['JOIN']);
      expect(wakes).toEqual([]);
      await advance(1);
      expect(types(rig.sent())).toEqual(['JOIN', 'JOIN']);
      expect(wakes).toEqual([30]);
      // The timer re-armed itself to the next JOIN.
      expect(rig.driver.receiver.pollTimeout()).toBe(60);
      expect(vi.getTimerCount()).toBe(1);
      await advance(29);
      expect(types(rig.sent())).toEqual(['JOIN', 'JOIN']);
      await advance(1);
      expect(types(rig.sent())).toEqual(['JOIN', 'JOIN', 'JOIN']);
      expect(wakes).toEqual([30, 60]);
      // ACCEPT at 60: JOIN stops; the deadline is now the sender's silence (5000 ms), and
      // the timer moved there: the core is not woken at 90 for nothing.
      await rig.answerFromSender(acceptBytes(rig.driver.receiverId));
      expect(rig.driver.receiver.pollTimeout()).toBe(60 + 5000);
      expect(vi.getTimerCount()).toBe(1);
      await advance(1000);
      expect(types(rig.sent())).toEqual(['JOIN', 'JOIN', 'JOIN']);
      expect(wakes).toEqual([30, 60]);
      expectAllSent(rig);
    });

    it('a gap in a slice: the datagram moves the timer to the NAK deadline; NAK at it, not before; again after repairWaitMs', async () => {
      const rig = await startReceiver();
      await joined(rig);
      const before = rig.sent().length;
      expect(rig.driver.receiver.pollTimeout()).toBe(5000);
      // Block 2 of slice 0 is lost; block 3 (LAST) shows it: a NAK is due 35 ms from now,
      // long before the timer's deadline (5000): the datagram moves the timer earlier.
      await advance(100);
      expect(wakes).toEqual([]);
      const [b0, b1, b2, b3] = slice(0);
      await rig.dataFromSender([b0!, b1!, b3!]);
      expect(rig.driver.receiver.pollTimeout()).toBe(100 + 35);
      expect(vi.getTimerCount()).toBe(1);
      await advance(34);
      expect(rig.sent().slice(before)).toEqual([]);
      expect(wakes).toEqual([]);
      await advance(1);
      expect(wakes).toEqual([135]);
      const naks = only(rig.sent(), MessageType.Nak);
      // seenSeq: the highest DATA seq read when it asked, b3's (4).
      expect(naks).toEqual([{ sessionId: expect.any(Number), receiverId: rig.driver.receiverId, sliceNo: 0, seenSeq: 4, need: [1], heard: [0] }]);
      expect(rig.driver.receiver.stats.naksSent).toBe(1);
      // No repair: the next NAK after repairWaitMs (50) plus a fresh backoff (35).
      expect(rig.driver.receiver.pollTimeout()).toBe(135 + 50 + 35);
      expect(vi.getTimerCount()).toBe(1);
      await advance(84);
      expect(only(rig.sent(), MessageType.Nak)).toHaveLength(1);
      await advance(1);
      expect(only(rig.sent(), MessageType.Nak)).toHaveLength(2);
      expect(wakes).toEqual([135, 220]);
      // The repair: slice 0 completes and is written; no NAK is pending any more.
      await rig.dataFromSender([b2!]);
      expect(rig.sink.writes.map((w) => Buffer.from(w))).toEqual([Buffer.from(sliceOf(0))]);
      expect(rig.driver.receiver.pollTimeout()).toBe(220 + 5000);
      await advance(1000);
      expect(only(rig.sent(), MessageType.Nak)).toHaveLength(2);
      expect(wakes).toEqual([135, 220]);
      expect(rig.driver.receiver.stats.naksSent).toBe(2);
      expectAllSent(rig);
    });

    it('each datagram from the sender moves the silence deadline later, and the timer with it', async () => {
      const rig = await startReceiver();
      await joined(rig);
      expect(rig.driver.receiver.pollTimeout()).toBe(5000);
      await advance(3000);
      await rig.dataFromSender(slice(0));
      expect(rig.driver.receiver.pollTimeout()).toBe(8000);
      expect(vi.getTimerCount()).toBe(1);
      // 5000, the first deadline, passes: the core is not even woken.
      await advance(2000);
      expect(wakes).toEqual([]);
      expect(rig.result()).toBeUndefined();
      expect(rig.driver.receiver.currentState).toBe('receiving');
      await advance(2999);
      expect(rig.result()).toBeUndefined();
      await advance(1);
      expect(rig.result()).toMatchObject({ ok: false, reason: Reason.ReceiveTimeout });
      expect(wakes).toEqual([8000]);
    });

    it('a datagram that arrived with the timer counts first: the core is woken after it, and the sender is not silent', async () => {
      const rig = await startReceiver();
      await joined(rig);
      expect(rig.driver.receiver.pollTimeout()).toBe(5000);
      // Due at 5000 like the driver's timer and armed after it, so it runs second in the same
      // pass, as a datagram read in the poll phase after the timers phase. The synchronous
      // advance runs both before any immediate.
      setTimeout(() => rig.data.deliver(slice(0)[0]!, SENDER.address, SENDER.port), 5000);
      vi.advanceTimersByTime(5000);
      await settle();
      expect(wakes).toEqual([5000]);
      expect(rig.result()).toBeUndefined();
      expect(rig.driver.receiver.currentState).toBe('receiving');
      expect(rig.driver.receiver.pollTimeout()).toBe(10_000);
    });
  });

  describe('the data group', () => {
    it('our JOIN goes out only once the data socket is bound and in the group', async () => {
      const rig = await startReceiver();
      let release = (): void => {};
      rig.data.bindGate = new Promise<void>((r) => {
        release = r;
      });
      await rig.fromSender(helloBytes());
      // The session is open and the data socket still binding: the JOIN waits in the core.
      expect(rig.data.binds).toEqual([{ port: DATA_PORT, address: DATA_GROUP }]);
      expect(rig.data.memberships).toEqual([]);
      expect(rig.fb.sent).toEqual([]);
      release();
      await settle();
      expect(rig.data.memberships).toEqual([{ group: DATA_GROUP, interfaceAddress: undefined }]);
      expect(types(rig.sent())).toEqual(['JOIN']);
    });

    it('joins it again when the sender asks about DATA that never came, and says so', async () => {
      const rig = await startReceiver();
      await joined(rig);
      expect(rig.data.memberships).toEqual([{ group: DATA_GROUP, interfaceAddress: undefined }]);
      // The sender is heard every 500 ms; its REQACKs ask about DATA up to seq 50, none of which reached us.
      for (let i = 0; i < 4; i++) {
        await advance(500);
        await rig.fromSender(reqackBytes({ reqackId: i + 1, needSlices: 1, needSeq: 50 }));
      }
      expect(rig.data.membershipsDropped).toEqual([{ group: DATA_GROUP, interfaceAddress: undefined }]);
      expect(rig.data.memberships).toEqual([
        { group: DATA_GROUP, interfaceAddress: undefined },
        { group: DATA_GROUP, interfaceAddress: undefined },
      ]);
      expect(rig.logs.filter((r) => r.evt === 'dataGroup.rejoin')).toMatchObject([{ group: DATA_GROUP, silentMs: 2000 }]);
      // The group reaches us again: DATA comes at least every 1.5 s, and no more joining.
      await rig.dataFromSender(slice(0));
      for (let i = 0; i < 6; i++) {
        await advance(500);
        if (i === 2) await rig.dataFromSender([block(1, 0)]);
        await rig.fromSender(reqackBytes({ reqackId: i + 10, needSlices: 1, needSeq: 50 }));
      }
      expect(rig.data.membershipsDropped).toHaveLength(1);
      expect(rig.driver.receiver.stats.dataRejoins).toBe(1);
      expect(rig.driver.receiver.currentState).toBe('receiving');
    });
  });

  describe('drain: datagrams out and slices to the sink', () => {
    it('a whole transfer: slices out of order are written in order, one write at a time, then verified, committed and reported', async () => {
      const rig = await startReceiver();
      await joined(rig);
      rig.sink.held = true;
      // Slice 1 before slice 0: the core holds it; slice 0 releases both, in order.
      await rig.dataFromSender(slice(1));
      expect(rig.sink.calls).toEqual([]);
      await rig.dataFromSender([...slice(0), ...slice(2)]);
      expect(rig.events.filter((e) => e.kind === 'deliver').map((e) => e.kind === 'deliver' && e.sliceNo)).toEqual([0, 1, 2]);
      // Three slices delivered, one write under way: the rest wait in the driver's queue.
      expect(rig.sink.waitingWrites).toBe(1);
      expect(rig.driver.receiver.progress.bytesWritten).toBe(0);
      rig.sink.release();
      await settle();
      expect(rig.driver.receiver.progress.bytesWritten).toBe(400);
      expect(rig.sink.waitingWrites).toBe(1);
      // END while two slices are still to be written: verifying waits for them.
      await rig.fromSender(endBytes(950, 3, DIGEST));
      expect(rig.driver.receiver.currentState).toBe('verifying');
      expect(rig.sink.calls).toEqual(['write', 'write']);
      rig.sink.release();
      await settle();
      rig.sink.release();
      await settle();
      expect(rig.sink.maxConcurrentWrites).toBe(1);
      expect(rig.sink.writes.map((w) => w.byteLength)).toEqual([400, 400, 150]);
      expect(Buffer.from(rig.sink.bytes)).toEqual(Buffer.from(IMAGE));
      expect(rig.sink.calls).toEqual(['write', 'write', 'write', 'finish', 'commit']);
      // Verified: STATUS COMPLETE went out when the last slice was delivered, then our REPORT.
      expect(rig.driver.receiver.currentState).toBe('reporting');
      const reports = only(rig.sent(), MessageType.Report);
      expect(reports).toHaveLength(1);
      expect(reports[0]).toMatchObject({ receiverId: rig.driver.receiverId, outcome: Outcome.Verified, reason: Reason.None, bytesWritten: 950 });
      expect(Buffer.from(reports[0]!.digest)).toEqual(Buffer.from(DIGEST));
      const complete = only(rig.sent(), MessageType.Status).filter((s) => (s.flags & STATUS_FLAG_COMPLETE) !== 0);
      expect(complete.length).toBeGreaterThanOrEqual(1);
      expect(rig.result()).toBeUndefined();
      await rig.answerFromSender(reportAckBytes(rig.driver.receiverId));
      const out = rig.result();
      expect(out).toMatchObject({
        ok: true,
        receiverId: rig.driver.receiverId,
        sender: SENDER.address,
        bytes: 950,
        digest: Buffer.from(DIGEST).toString('hex'),
        reason: Reason.None,
        detail: '',
        ioError: false,
        joinSlice: 0,
      });
      // The fake socket places nothing (no setPlacement): every DATA went through onMessage.
      expect(out?.io).toEqual({ path: 'dgram', description: 'fake', data: expect.objectContaining({ datagramsReceived: 10 }), placed: 0 });
      expect(out?.stats).toMatchObject({ dataPackets: 10, duplicates: 0, naksSent: 0, drops: {} });
      // Everything closed once; the sink committed and never discarded; no timer left.
      expectAllClosedOnce(rig);
      expect(rig.sink.calls).toEqual(['write', 'write', 'write', 'finish', 'commit']);
      expect(vi.getTimerCount()).toBe(0);
      expect(rig.logs.filter((r) => r.evt === 'verify')).toEqual([expect.objectContaining({ ok: true, digest: Buffer.from(DIGEST).toString('hex') })]);
      expect(rig.logs.filter((r) => r.evt === 'done')).toEqual([expect.objectContaining({ ok: true, reason: 'none' })]);
      expectAllSent(rig);
      // The sender's last word again (its REPORT_ACK repeated): nothing more happens.
      await rig.answerFromSender(reportAckBytes(rig.driver.receiverId));
      expectAllClosedOnce(rig);
      expect(rig.logs.filter((r) => r.evt === 'done')).toHaveLength(1);
    });

    it('REPORT repeats on the timer until reportTries run out; the verified result stands without the REPORT_ACK', async () => {
      const rig = await startReceiver();
      await joined(rig);
      await rig.dataFromSender([...slice(0), ...slice(1), ...slice(2)]);
      await rig.fromSender(endBytes(950, 3, DIGEST));
      const at = Date.now();
      expect(only(rig.sent(), MessageType.Report)).toHaveLength(1);
      expect(rig.driver.receiver.pollTimeout()).toBe(at + 30);
      await advance(29);
      expect(only(rig.sent(), MessageType.Report)).toHaveLength(1);
      await advance(1);
      expect(only(rig.sent(), MessageType.Report)).toHaveLength(2);
      await advance(30);
      expect(only(rig.sent(), MessageType.Report)).toHaveLength(3);
      expect(rig.result()).toBeUndefined();
      await advance(30);
      expect(only(rig.sent(), MessageType.Report)).toHaveLength(3);
      expect(rig.result()).toMatchObject({ ok: true, bytes: 950, reason: Reason.None });
      expect(rig.sink.calls).toEqual(['write', 'write', 'write', 'finish', 'commit']);
      expectAllClosedOnce(rig);
      expect(vi.getTimerCount()).toBe(0);
      expectAllSent(rig);
    });
  });

  describe('shutdown', () => {
    it('a sender gone silent: fails with one line, tells the sender, discards the sink and closes everything once', async () => {
      const rig = await startReceiver();
      await joined(rig);
      await advance(100);
      await rig.dataFromSender(slice(0));
      expect(rig.sink.writes).toHaveLength(1);
      const lastHeardMs = Date.now();
      await advance(4999);
      expect(rig.result()).toBeUndefined();
      expect(types(rig.sent())).not.toContain('LEAVE');
      await advance(1);
      const out = rig.result();
      expect(out).toMatchObject({ ok: false, reason: Reason.ReceiveTimeout, detail: 'sender silent for 5 s', ioError: false, bytes: 400 });
      expect(out?.detail).not.toMatch(/\n/);
      expect(Date.now()).toBe(lastHeardMs + 5000);
      // The sender hears why: LEAVE ends what we sent (the core sends it twice, against loss).
      expect(types(rig.sent()).slice(-2)).toEqual(['LEAVE', 'LEAVE']);
      const leave = expect.objectContaining({ receiverId: rig.driver.receiverId, reason: Reason.ReceiveTimeout, detail: 'sender silent for 5 s' });
      expect(only(rig.sent(), MessageType.Leave)).toEqual([leave, leave]);
      // What was written is discarded, never committed; no verification was attempted.
      expect(rig.sink.calls).toEqual(['write', 'discard']);
      expectAllClosedOnce(rig);
      expect(vi.getTimerCount()).toBe(0);
      expect(rig.logs.filter((r) => r.evt === 'done')).toEqual([expect.objectContaining({ ok: false, reason: 'receive timeout' })]);
      expectAllSent(rig);
      // Time goes on: nothing more.
      await advance(60_000);
      expect(rig.sink.calls).toEqual(['write', 'discard']);
      expectAllClosedOnce(rig);
    });

    it('a HELLO naming another data port: ends at once, its LEAVE sent before the sockets close, no data socket bound', async () => {
      const rig = await startReceiver();
      await rig.fromSender(helloBytes({ dataPort: DATA_PORT + 2 }));
      const detail = `sender sends data to port ${DATA_PORT + 2}, not --portbase ${DATA_PORT}`;
      expect(rig.result()).toMatchObject({ ok: false, reason: Reason.ProtocolViolation, detail, sender: SENDER.address });
      expect(types(rig.sent())).toEqual(['JOIN', 'LEAVE', 'LEAVE']);
      expect(only(rig.sent(), MessageType.Leave)[0]).toMatchObject({ reason: Reason.ProtocolViolation, detail });
      expect(rig.data.binds).toEqual([]);
      expect(rig.sink.calls).toEqual(['discard']);
      expectAllClosedOnce(rig);
      expect(vi.getTimerCount()).toBe(0);
      expectAllSent(rig);
    });

    it('a digest mismatch: everything written, never committed, discarded once', async () => {
      const rig = await startReceiver();
      await joined(rig);
      await rig.dataFromSender([...slice(0), ...slice(1), ...slice(2)]);
      const wrong = DIGEST.slice();
      wrong[0]! ^= 1;
      await rig.fromSender(endBytes(950, 3, wrong));
      const reports = only(rig.sent(), MessageType.Report);
      expect(reports).toEqual([expect.objectContaining({ outcome: Outcome.Failed, reason: Reason.DigestMismatch })]);
      await rig.answerFromSender(reportAckBytes(rig.driver.receiverId));
      const out = rig.result();
      expect(out).toMatchObject({ ok: false, reason: Reason.DigestMismatch, digest: Buffer.from(DIGEST).toString('hex') });
      expect(out?.detail).toMatch(/^digest mismatch: got sha256 [0-9a-f]{64}, sender has [0-9a-f]{64}$/);
      expect(rig.sink.calls).toEqual(['write', 'write', 'write', 'finish', 'discard']);
      expectAllClosedOnce(rig);
      expectAllSent(rig);
    });

    it('a write that fails: WRITE_ERROR, an I/O failure, the sender told, the sink discarded', async () => {
      const rig = await startReceiver();
      await joined(rig);
      rig.sink.failNextWrite = new IoError('write', 'cannot write /dev/fake: ENOSPC: no space left on device');
      await rig.dataFromSender(slice(0));
      const out = rig.result();
      expect(out).toMatchObject({
        ok: false,
        reason: Reason.WriteError,
        detail: 'cannot write /dev/fake: ENOSPC: no space left on device',
        ioError: true,
        bytes: 0,
      });
      expect(only(rig.sent(), MessageType.Leave)).toEqual([
        expect.objectContaining({ reason: Reason.WriteError }),
        expect.objectContaining({ reason: Reason.WriteError }),
      ]);
      expect(rig.sink.calls).toEqual(['write', 'discard']);
      expectAllClosedOnce(rig);
      expect(vi.getTimerCount()).toBe(0);
      expectAllSent(rig);
    });

    it('abort (a signal) ends it once: one LEAVE (sent twice), one discard, each socket closed once, however often it is called', async () => {
      const rig = await startReceiver();
      await joined(rig);
      await rig.dataFromSender(slice(0));
      rig.driver.abort(Reason.Interrupted, 'receiver interrupted (SIGINT)');
      rig.driver.abort(Reason.Interrupted, 'receiver interrupted (SIGTERM)');
      await settle();
      expect(rig.result()).toMatchObject({ ok: false, reason: Reason.Interrupted, detail: 'receiver interrupted (SIGINT)' });
      rig.driver.abort(Reason.Interrupted, 'receiver interrupted (SIGTERM)');
      await settle();
      const leave = expect.objectContaining({ reason: Reason.Interrupted, detail: 'receiver interrupted (SIGINT)' });
      expect(only(rig.sent(), MessageType.Leave)).toEqual([leave, leave]);
      expect(rig.sink.calls).toEqual(['write', 'discard']);
      expectAllClosedOnce(rig);
      expect(rig.logs.filter((r) => r.evt === 'done')).toHaveLength(1);
      expect(vi.getTimerCount()).toBe(0);
      expectAllSent(rig);
    });

    it('a socket error ends the transfer as an I/O failure, and the sink is discarded', async () => {
      const rig = await startReceiver();
      await joined(rig);
      rig.data.fail(new Error('recvmsg: ENOMEM'));
      await settle();
      expect(rig.result()).toMatchObject({ ok: false, reason: Reason.Interrupted, detail: 'socket: recvmsg: ENOMEM', ioError: true });
      expect(rig.sink.calls).toEqual(['discard']);
      expectAllClosedOnce(rig);
      expectAllSent(rig);
    });
  });
});
