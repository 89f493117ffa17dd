// The sender's driver: owns the socket, the one timer, the source and the keyboard,
// and runs the loop: feed events → drain transmits → re-arm the timer at pollTimeout().
// It makes no protocol decisions.

import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { type CpuBreakdown, CpuStage, type CpuStart, cpuBreakdown, cpuStart } from '../common/cpu-clock.js';
import { IoError, oneLine } from '../common/errors.js';
import { timedCoder } from '../common/fec.js';
import type { IoChoice, UdpFactory } from '../common/udp/select.js';
import type { UdpSocket, UdpSocketStats } from '../common/udp/socket.js';
import { fullSliceBytes } from '../protocol/geometry.js';
import {
  type CloneReport,
  type CloneReportState,
  type ReceiverRecord,
  type RosterHost,
  type SenderConfig,
  SenderCore,
  type SenderEvent,
  type SenderStats,
  type Transmit,
} from './core.js';
import { HashThread } from './hash-thread.js';
import { logSenderEvent } from './log-events.js';
import type { Source } from './source-types.js';

export interface SenderNetConfig {
  /** Local IPv4 address to send from and join on; undefined: the kernel's choice. */
  readonly interfaceAddress: string | undefined;
  readonly rdvGroup: string;
  readonly portbase: number;
  readonly ttl: number;
  /** The UDP path asked for; the CLI turns it into the UdpFactory the driver gets. */
  readonly io: IoChoice;
}

export interface SenderOutcome {
  readonly ok: boolean;
  readonly bytes: number;
  readonly seconds: number;
  readonly digest: string;
  readonly receivers: readonly Readonly<ReceiverRecord>[];
  /** --hosts: every host listed, with its receivers' ids (none: it never joined). */
  readonly hosts: readonly { readonly host: RosterHost; readonly receiverIds: readonly number[] }[];
  /** --start-timeout passed before the transfer started. */
  readonly startTimedOut: boolean;
  readonly stats: SenderStats;
  readonly windowPackets: number;
  /** The UDP path used and the data socket's syscall counters. */
  readonly io: { readonly path: string; readonly description: string; readonly data: Readonly<UdpSocketStats> };
  /**
   * Where the CPU went (ms): startup, sendSyscalls (in the lab, the kernel runs the bridge and
   * the receivers' IP stack inside them too), dataJs (the send loop: the protocol core and the
   * socket's batching, per datagram), fec (encoding parity), hash (SHA-256), feedback (reading
   * and handling NAK/STATUS/REPORT), mainOther, otherThreads (file reads on libuv's pool, V8's
   * GC and compiler threads).
   */
  readonly cpu: CpuBreakdown;
  readonly error?: string;
  /** --clone-reports: per receiver (in the order of `receivers`), its clone agent's report or why there is none. */
  readonly cloneReports?: readonly { readonly state: CloneReportState; readonly report?: CloneReport }[];
}

/**
 * How long the CLI's sender stays after a session of more than LINGER_MIN_RECEIVERS to
 * acknowledge repeated REPORTs: a receiver repeats its REPORT every 100 ms until it hears
 * REPORT_ACK, so a lost ACK is answered within about 100 ms, where closing at once left
 * that receiver repeating for 3 s (30 REPORTs; in the lab, 32 receivers at 1% loss sent 61
 * or 90 REPORTs in most runs). A few receivers rarely lose one (4 at 1%: one session in 25)
 * and their sender exits at once, as the time to the sender's exit is what a small
 * session's user (and bench/bench.ts) waits for.
 */
export const REPORT_LINGER_MS = 400;
/** Sessions of more receivers than this linger (the CLI's quiet sessions: more than 8). */
export const LINGER_MIN_RECEIVERS = 8;

/** After the session: stay `ms` to acknowledge repeated REPORTs when it had more than `minReceivers` receivers. */
export interface Linger {
  readonly ms: number;
  readonly minReceivers: number;
}
/** Sends at most this many datagrams per turn of the event loop, so incoming feedback is read in between. */
const SENDS_PER_TURN = 256;
/**
 * The data socket's send buffer (the kernel doubles it): 1 MiB, less than a device queue holds.
 * The kernel drops what overflows the queue (a tbf, a NIC's ring) without telling a UDP
 * sender, so a larger buffer turned the sender's own bursts into loss: behind the lab's
 * 1 Gbit/s tbf (20 ms of queue) with 4 MiB the tbf dropped 7.4% of a 512 MiB image's datagrams
 * in a 5% loss run, and at 0% loss the wire carried 1.15-1.17 bytes per image byte against
 * 1.05-1.06 with 1 MiB. The send thread refills the buffer long before it runs dry.
 */
const DATA_SNDBUF_BYTES = 1 << 20;
/** Slices read from the source ahead of the core (feedSource). */
const READ_AHEAD = 2;

export class SenderDriver {
  /**
   * Control: an ephemeral port of its own. It sends HELLO, START, REQACK, END and DROP to
   * the rendezvous group and what answers one receiver (ACCEPT, REPORT_ACK) to that
   * receiver alone, and it hears the receivers' STATUS, JOIN, REPORT and LEAVE, which they
   * send to the source of our HELLO. A port of its own, not portbase+1: two senders on one
   * host (other groups, the same port base) must not share where their receivers answer,
   * and a socket bound to the wildcard address on portbase+1 would also hear every group
   * joined on this host on that port.
   */
  private readonly socket: UdpSocket;
  /**
   * Rendezvous: bound to portbase+1 in the rendezvous group; hears the receivers' NAKs,
   * which go to the group so that receivers hear each other's and keep quiet. Sends nothing.
   */
  private readonly rendezvous: UdpSocket;
  /**
   * Data: connected to the data group, so a send does no address lookup (dgram resolves
   * the address of every unconnected send, on a nextTick), and the native path can batch.
   */
  private readonly dataSocket: UdpSocket;
  private readonly ioDescription: string;
  private readonly ioPath: string;
  private readonly core: SenderCore;
  private readonly hash = createHash('sha256');
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  /** Done, and staying linger.ms to acknowledge repeated REPORTs (finish()). */
  private lingering = false;
  private reading = false;
  /** Head slices being read again for late receivers (--streaming). */
  private reloading = 0;
  private sourceDone = false;
  private sendWaiting = false;
  /** A control message that waits for the DATA flushed before it to be in the kernel (dataSocket.settled()). */
  private heldControl: Transmit | undefined;
  private startedAtMs: number | undefined;
  /** When the transfer was over: the rate counts to here, not to the end of a --clone-reports wait. */
  private transferEndMs: number | undefined;
  private digestHex = '';
  private error: string | undefined;
  private finished: ((o: SenderOutcome) => void) | undefined;
  private windowPackets = 0;
  private startTimedOut = false;
  /** Bytes of a full slice: what the source is read in. */
  private readonly sliceBytes: number;
  private readonly cpuAtStart: CpuStart;
  private readonly fecCpu = new CpuStage();
  private readonly hashCpu = new CpuStage();
  private readonly sendLoopCpu = new CpuStage();
  /**
   * Slices are read into these (a source with readInto), slice n into n % length, made as
   * first needed. While slice n is read, the core holds at most retainSlices slices
   * (sender/core/slices.ts), the ones just before those read ahead (fewer than READ_AHEAD),
   * so every slice still in use is n - length + 1 or later: slice n - length left the core
   * before n is read, and its datagrams left the socket long before (every receiver had it;
   * dgram queues only the last 64 sends). Repair parity is the core's own memory.
   */
  private readonly sliceRing: Uint8Array[] = []; // bounded: cfg.retainSlices + READ_AHEAD
  private slicesRead = 0;
  /** Slices read (and hashed, or posted to the hash thread), not yet taken by the core, in order; null: the source ended after them. */
  private readonly readAhead: (Uint8Array | null)[] = []; // bounded: READ_AHEAD
  /** useHashThread(): the image's SHA-256 is taken there, over the ring (shared memory). */
  private hashThread: HashThread | undefined;
  /** The image's SHA-256, once the source ended and every byte is hashed. */
  private endDigest: Buffer | undefined;
  private hashThreadMs = 0;

  constructor(
    private readonly cfg: Readonly<SenderConfig>,
    private readonly net: Readonly<SenderNetConfig>,
    udp: UdpFactory,
    private readonly source: Source,
    private readonly log: Logger,
    private readonly onEvent: (ev: SenderEvent, core: SenderCore) => void = () => undefined,
    /** Milliseconds on a monotonic clock; a unit test gives the fake clock its timers run on. */
    private readonly clock: () => number = () => performance.now(),
    /** After the session, stay and acknowledge repeated REPORTs (the CLI: REPORT_LINGER_MS past LINGER_MIN_RECEIVERS; none: close at once). */
    private readonly linger: Linger = { ms: 0, minReceivers: 0 },
  ) {
    this.cpuAtStart = cpuStart();
    this.core = new SenderCore({ ...cfg, coder: timedCoder(cfg.coder, this.fecCpu) }, this.now());
    this.sliceBytes = fullSliceBytes({ blockBytes: cfg.blockBytes, sliceBlocks: cfg.sliceBlocks, stripes: cfg.stripes, imageBytes: cfg.imageBytes });
    this.ioPath = udp.path;
    this.ioDescription = udp.description;
    this.socket = udp.create({});
    this.rendezvous = udp.create({ reuseAddr: true });
    // DATA's send syscalls on a thread of their own (native path): at one receiver they were
    // two thirds of this loop's thread, which bound the rate.
    this.dataSocket = udp.create({ sendThread: true });
  }

  private now(): number {
    return this.clock();
  }

  /**
   * Hashes the image on a worker thread (sender/hash-thread.ts) instead of the send loop's.
   * Needs a source read into the slice ring (readInto); returns whether it is on. Call before run().
   */
  useHashThread(): boolean {
    if (this.source.readInto === undefined || this.hashThread !== undefined) return this.hashThread !== undefined;
    const slots = this.cfg.retainSlices + READ_AHEAD;
    const ring = new SharedArrayBuffer(slots * this.sliceBytes);
    for (let i = 0; i < slots; i++) this.sliceRing[i] = new Uint8Array(ring, i * this.sliceBytes, this.sliceBytes);
    this.hashThread = new HashThread(ring, slots, this.sliceBytes, (e) => this.fail(`hash thread: ${oneLine(e)}`));
    return true;
  }

  get sender(): SenderCore {
    return this.core;
  }

  async run(): Promise<SenderOutcome> {
    await this.openSocket();
    const done = new Promise<SenderOutcome>((resolve) => {
      this.finished = resolve;
    });
    const onMessage = (bytes: Uint8Array, address: string, port: number): void => {
      this.core.handle({ kind: 'datagram', from: { address, port }, bytes }, this.now());
      this.kick();
    };
    this.socket.onMessage(onMessage);
    this.rendezvous.onMessage(onMessage);
    this.socket.onError((e) => this.fail(`socket: ${oneLine(e)}`));
    this.rendezvous.onError((e) => this.fail(`rendezvous socket: ${oneLine(e)}`));
    this.dataSocket.onError((e) => this.fail(`data socket: ${oneLine(e)}`));
    this.kick();
    return done;
  }

  /** Enter on the terminal. */
  start(): void {
    this.core.handle({ kind: 'start' }, this.now());
    this.kick();
  }

  abort(detail: string): void {
    this.error ??= detail;
    this.core.handle({ kind: 'abort', detail }, this.now());
    this.kick();
  }

  private fail(detail: string): void {
    this.log.error({ evt: 'sender.error', detail }, detail);
    this.abort(detail);
  }

  private async openSocket(): Promise<void> {
    const r = this.rendezvous;
    // Bound to the group, not 0.0.0.0, so another session on this host with the same port
    // base (other groups) is not heard.
    await r.bind(this.net.portbase + 1, this.net.rdvGroup).catch((e: unknown) => {
      throw new IoError('socket', `cannot bind UDP port ${this.net.portbase + 1}: ${oneLine(e)}`, { cause: e });
    });
    const s = this.socket;
    await s.bind(0, this.net.interfaceAddress).catch((e: unknown) => {
      throw new IoError('socket', `cannot open the control socket on ${this.net.interfaceAddress ?? 'any address'}: ${oneLine(e)}`, { cause: e });
    });
    try {
      r.addMembership(this.net.rdvGroup, this.net.interfaceAddress);
      r.setRecvBufferSize(4 << 20);
      if (this.net.interfaceAddress !== undefined) s.setMulticastInterface(this.net.interfaceAddress);
      s.setMulticastTTL(this.net.ttl);
      // Receivers on this same host must hear us too.
      s.setMulticastLoopback(true);
      s.setSendBufferSize(4 << 20);
      s.setRecvBufferSize(4 << 20);
    } catch (e) {
      throw new IoError('socket', `cannot set up multicast on ${this.net.interfaceAddress ?? 'the default interface'}: ${oneLine(e)}`, { cause: e });
    }
    const d = this.dataSocket;
    await (async () => {
      await d.bind(0, this.net.interfaceAddress);
      await d.connect(this.cfg.dataPort, this.cfg.dataGroup);
    })().catch((e: unknown) => {
      throw new IoError('socket', `cannot open the data socket to ${this.cfg.dataGroup}:${this.cfg.dataPort}: ${oneLine(e)}`, { cause: e });
    });
    try {
      if (this.net.interfaceAddress !== undefined) d.setMulticastInterface(this.net.interfaceAddress);
      d.setMulticastTTL(this.net.ttl);
      d.setMulticastLoopback(true);
      d.setSendBufferSize(DATA_SNDBUF_BYTES);
    } catch (e) {
      throw new IoError('socket', `cannot set up the data socket: ${oneLine(e)}`, { cause: e });
    }
    this.log.info(
      {
        evt: 'socket.open',
        port: this.net.portbase + 1,
        sndbuf: d.getSendBufferSize(),
        rcvbuf: s.getRecvBufferSize(),
        interface: this.net.interfaceAddress,
        io: this.ioDescription,
      },
      'socket open',
    );
  }

  /** Runs the loop soon (coalesced), from any callback. */
  private kick(): void {
    if (this.immediate !== undefined) return;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.turn();
    });
  }

  private turn(): void {
    let now = this.now();
    // A turn that runs at or after the core's deadline is its timeout too (arm() kicks
    // instead of setting a 0 ms timer).
    const due = this.core.pollTimeout();
    if (due !== undefined && due <= now) this.core.handleTimeout(now);
    this.drainEvents();
    if (this.finished === undefined) {
      if (this.lingering) this.sendControlOnly(now);
      return;
    }
    let sent = 0;
    const loopStart = this.sendLoopCpu.begin();
    if (!this.sendWaiting && this.heldControl !== undefined) {
      this.sendHeldControl();
      this.socket.flush();
    }
    while (!this.sendWaiting && sent < SENDS_PER_TURN) {
      if (!this.dataSocket.writable()) {
        // The kernel's buffer is full: carry on when it has room.
        this.sendWaiting = true;
        this.dataSocket.onDrain(this.onDrain);
        break;
      }
      const t = this.core.pollTransmit(now);
      if (t === undefined) break;
      sent++;
      if (t.to === 'data') {
        this.dataSocket.send(t.parts);
      } else {
        // Batched data first: control (REQACK, END) must not overtake the data it is about.
        this.dataSocket.flush();
        if (!this.dataSocket.settled()) {
          // A send thread still has DATA of ours: the message goes once that is in the kernel.
          this.heldControl = t;
          this.sendWaiting = true;
          this.dataSocket.onSettled(this.onDrain);
          break;
        }
        this.sendControl(t);
        // Control is rare and each one matters now (HELLO, START, REQACK): no batching.
        this.socket.flush();
      }
      if ((sent & 31) === 0) now = this.now();
    }
    this.dataSocket.flush();
    this.sendLoopCpu.end(loopStart);
    this.feedSource();
    this.feedReload();
    this.drainEvents();
    if (this.finished === undefined) return;
    if (sent === SENDS_PER_TURN) {
      this.kick();
      return;
    }
    this.arm();
  }

  /** The control message held for the DATA before it (turn()) goes now. */
  private sendHeldControl(): void {
    if (this.heldControl === undefined) return;
    this.sendControl(this.heldControl);
    this.heldControl = undefined;
  }

  /**
   * The session is over: what the core still sends to the receivers (REPORT_ACK, DROP) goes,
   * DATA does not; a control message still held for DATA goes first (nothing is left to overtake).
   */
  private sendControlOnly(now: number): void {
    this.sendHeldControl();
    for (let t = this.core.pollTransmit(now); t !== undefined; t = this.core.pollTransmit(now)) {
      if (t.to === 'data') continue;
      this.sendControl(t);
    }
    this.socket.flush();
  }

  /** To the rendezvous group, or (ACCEPT, REPORT_ACK) to one receiver's endpoint. */
  private sendControl(t: Transmit): void {
    if (t.to === 'control') this.socket.send(t.parts, this.net.portbase + 1, this.net.rdvGroup);
    else if (t.to !== 'data') this.socket.send(t.parts, t.to.port, t.to.address);
  }

  private readonly onDrain = (): void => {
    this.sendWaiting = false;
    this.kick();
  };

  /** The one timer, re-armed at the core's next deadline. */
  private arm(): void {
    const t = this.core.pollTimeout();
    if (t === undefined) return;
    const delay = Math.max(0, t - this.now());
    if (delay <= 0) {
      this.kick();
      return;
    }
    if (this.timer === undefined) {
      this.timer = setTimeout(this.onTimer, delay);
    } else {
      clearTimeout(this.timer);
      this.timer = setTimeout(this.onTimer, delay);
    }
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.core.handleTimeout(this.now());
    this.turn();
  };

  /** The next slice from the source: into the ring when the source can, else a buffer of its own. */
  private async readSlice(): Promise<Uint8Array | null> {
    const source = this.source;
    if (source.readInto === undefined) return source.read(this.sliceBytes);
    const slots = this.cfg.retainSlices + READ_AHEAD;
    const slot = this.slicesRead % slots;
    // The slice read into this slot before must be hashed before the slot is written again.
    const hashed = this.slicesRead - slots + 1;
    if (this.hashThread !== undefined && hashed > 0 && this.hashThread.hashed < hashed) await this.hashThread.whenHashed(hashed);
    this.sliceRing[slot] ??= new Uint8Array(this.sliceBytes);
    const n = await source.readInto(this.sliceRing[slot]);
    if (n === 0) return null;
    this.slicesRead++;
    this.hashThread?.post(slot, n);
    return this.sliceRing[slot].subarray(0, n);
  }

  /**
   * Hands the core the slices read ahead that it wants, then reads the next one if fewer
   * than READ_AHEAD wait. Reading only when the core wanted a slice left the send loop idle
   * for every read: at one receiver, 557 ms of a 2.9 s transfer of 512 MiB went waiting for
   * 1,450 reads of 370 KB from the page cache, in 1,404 turns that had nothing to send.
   */
  private feedSource(): void {
    if (this.core.pass > 1) {
      if (!this.reading && this.core.wantsSlice()) this.feedAgain();
      return;
    }
    this.handOver();
    if (this.reading || this.sourceDone || this.readAhead.length >= READ_AHEAD) return;
    this.reading = true;
    this.readSlice().then(
      (buf) => {
        this.reading = false;
        // finish() has begun (the session ended while this read was out): the slice is
        // nobody's any more, and the source may be closing.
        if (this.finished === undefined) return;
        if (buf === null) {
          this.sourceDone = true;
          this.takeDigest();
        } else if (this.hashThread === undefined) {
          const t0 = this.hashCpu.begin();
          this.hash.update(buf);
          this.hashCpu.end(t0);
        }
        this.readAhead.push(buf);
        this.feedSource();
        this.kick();
      },
      (e: unknown) => {
        this.reading = false;
        this.sourceDone = true;
        // A read that failed because finish() closed the source is not the transfer's error.
        if (this.finished === undefined) return;
        this.fail(oneLine(e));
      },
    );
  }

  /** The source ended: the image's digest, at once, or when the hash thread has it. */
  private takeDigest(): void {
    if (this.hashThread === undefined) {
      this.endDigest = this.hash.digest();
      return;
    }
    this.hashThread.finish().then(
      (r) => {
        if (this.finished === undefined) return;
        this.endDigest = Buffer.from(r.digest);
        this.hashThreadMs = r.cpuMs;
        // The turn hands the end over (feedSource).
        this.kick();
      },
      () => undefined, // reported by the thread's onError
    );
  }

  /**
   * The slices read ahead, in order, while the core wants them; then the end of the source
   * (when it would want one more, as when the end was read only then) once it is hashed.
   */
  private handOver(): void {
    while (this.readAhead.length > 0 && this.core.wantsSlice()) {
      if (this.readAhead[0] === null && this.endDigest === undefined) return;
      const buf = this.readAhead.shift()!;
      if (buf === null) {
        const digest = this.endDigest!;
        this.digestHex = digest.toString('hex');
        this.core.handle({ kind: 'eof', digest }, this.now());
      } else {
        this.core.handle({ kind: 'slice', bytes: buf }, this.now());
      }
    }
  }

  /** A later pass of a carousel (--async --carousel): the slice the core wants, read at its offset. */
  private feedAgain(): void {
    const source = this.source;
    if (source.readAt === undefined) {
      this.fail(`${source.description} cannot be read again for another pass`);
      return;
    }
    const sliceNo = this.core.nextSliceNo;
    const offset = sliceNo * this.sliceBytes;
    this.reading = true;
    source.readAt(offset, Math.min(this.sliceBytes, this.core.bytesRead - offset)).then(
      (bytes) => {
        this.reading = false;
        if (this.finished === undefined) return;
        this.core.handle({ kind: 'slice', bytes }, this.now());
        this.kick();
      },
      (e: unknown) => {
        this.reading = false;
        if (this.finished === undefined) return;
        this.fail(oneLine(e));
      },
    );
  }

  /** Reads again the head slices a late receiver asked for (two reads in flight at most). */
  private feedReload(): void {
    const source = this.source;
    if (source.readAt === undefined) return;
    const full = this.sliceBytes;
    while (this.reloading < 2) {
      const sliceNo = this.core.pollReload();
      if (sliceNo === undefined) return;
      this.reloading++;
      const offset = sliceNo * full;
      source.readAt(offset, Math.min(full, this.cfg.imageBytes - offset)).then(
        (bytes) => {
          this.reloading--;
          if (this.finished === undefined) return;
          this.core.handle({ kind: 'reload', sliceNo, bytes }, this.now());
          this.kick();
        },
        (e: unknown) => {
          this.reloading--;
          if (this.finished === undefined) return;
          this.fail(oneLine(e));
        },
      );
    }
  }

  private drainEvents(): void {
    if (this.transferEndMs === undefined && this.core.currentPhase === 'done') this.transferEndMs = this.now();
    for (let ev = this.core.pollEvent(); ev !== undefined; ev = this.core.pollEvent()) {
      logSenderEvent(this.log, ev, this.core.stats);
      this.onEvent(ev, this.core);
      if (ev.kind === 'started') {
        this.startedAtMs = this.now();
        this.windowPackets = ev.windowPackets;
      }
      if (ev.kind === 'startTimedOut') this.startTimedOut = true;
      if (ev.kind === 'done') void this.finish(ev.ok);
    }
  }

  /** Flushes the last control datagrams (REPORT_ACK, DROP), then closes and resolves. */
  private async finish(ok: boolean): Promise<void> {
    const resolve = this.finished;
    if (resolve === undefined) return;
    this.finished = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.sendControlOnly(this.now());
    // A receiver whose REPORT_ACK was lost repeats its REPORT every 100 ms for 3 s and
    // then trusts its own check (receiver/core.ts): answered now, it is done at once. The
    // core acknowledges a REPORT in any phase; turn() sends what it answers meanwhile.
    if (this.linger.ms > 0 && !this.cfg.async && this.core.receiverList().length > this.linger.minReceivers) {
      this.lingering = true;
      await new Promise<void>((resolve) => setTimeout(resolve, this.linger.ms));
      this.lingering = false;
    }
    await this.source.close().catch(() => undefined);
    await this.hashThread?.close();
    // close() lets queued datagrams (the last REPORT_ACK, DROP) go first.
    await this.socket.close();
    await this.rendezvous.close();
    await this.dataSocket.close();
    const end = this.transferEndMs ?? this.now();
    resolve({
      ok: ok && this.error === undefined,
      bytes: this.core.bytesRead,
      seconds: this.startedAtMs === undefined ? 0 : (end - this.startedAtMs) / 1000,
      digest: this.digestHex,
      receivers: this.core.receiverList(),
      cloneReports: this.core.cloneReportsShown ? this.core.receiverList().map((r) => this.core.cloneReportOf(r.id)) : undefined,
      hosts: this.core.hostList(),
      startTimedOut: this.startTimedOut,
      stats: this.core.stats,
      windowPackets: this.windowPackets,
      io: { path: this.ioPath, description: this.ioDescription, data: { ...this.dataSocket.stats } },
      cpu: this.cpuReport(),
      error: this.error,
    });
  }

  private cpuReport(): CpuBreakdown {
    const d = this.dataSocket.cpu;
    const c = this.socket.cpu;
    // With a send thread, DATA's send syscalls (and that thread's waits) are its CPU, not the loop's.
    const threaded = d.sendThreadMs > 0;
    const sendSyscalls = (threaded ? 0 : d.sendSyscallMs) + c.sendSyscallMs;
    return cpuBreakdown(
      this.cpuAtStart,
      {
        sendSyscalls,
        // The send loop encodes parity (fec) and makes the send syscalls; a drain after a full
        // buffer sends what waited.
        dataJs: this.sendLoopCpu.ms + d.drainMs + c.drainMs - sendSyscalls - this.fecCpu.ms,
        fec: this.fecCpu.ms,
        hash: this.hashCpu.ms,
        feedback: c.readMs + d.readMs,
      },
      { hash: this.hashThreadMs, sendSyscalls: d.sendThreadMs },
    );
  }
}
