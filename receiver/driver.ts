// The receiver's driver: owns the three sockets (data, control and feedback), the one
// timer and the sink; hashes what it writes and checks it against the sender's digest. It makes
// no protocol decisions. A receiver that joined late (udp-sender --streaming) writes
// each slice at its offset and, at the end, hashes the image read back from the disk.
//
// Slices live in a pool the driver owns (common/udp/placement.ts): the core opens each
// slice in it, the data socket places DATA blocks straight into their slices and hands the
// core records, and a delivered slice's memory goes back to the pool once the sink wrote
// it. RACKCAST_PLACEMENT=pool keeps the pool without placement, =off neither (A/B benches).
//
// CPU: the driver adds up where the main thread's time goes, a batch at a time (socket wakes,
// a slice's hash, the sink's calls), for the report's breakdown (common/cpu-clock.ts).

import { createHash, randomInt } from 'node:crypto';
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { type CpuBreakdown, CpuStage, type CpuStart, cpuBreakdown, cpuStart } from '../common/cpu-clock.js';
import { IoError, isIoError, oneLine } from '../common/errors.js';
import { timedCoder } from '../common/fec.js';
import { type PlacedHandler, PlacementTable } from '../common/udp/placement.js';
import type { IoChoice, UdpFactory } from '../common/udp/select.js';
import type { UdpSocket, UdpSocketStats } from '../common/udp/socket.js';
import { Reason, reasonName } from '../protocol/reasons.js';
import { type ReceiverConfig, ReceiverCore, type ReceiverEvent, type ReceiverInput, type ReceiverStats } from './core.js';
import type { OffsetSink, Sink, SinkReport } from './sink-types.js';

/** Environment variable: `off` (heap memory per slice, no placement), `pool` (the pool, no placement), else placement on. */
export const PLACEMENT_ENV = 'RACKCAST_PLACEMENT';

export interface ReceiverNetConfig {
  readonly interfaceAddress: string | undefined;
  readonly rdvGroup: string;
  readonly portbase: number;
  readonly ttl: number;
  /** Asked of the kernel for the data socket; what it grants is logged and told to the sender. */
  readonly rcvBufBytes: number;
  /** The UDP path asked for; the CLI turns it into the UdpFactory the driver gets. */
  readonly io: IoChoice;
}

export type ReceiverCoreOptions = Omit<ReceiverConfig, 'receiverId' | 'rcvBufBytes' | 'random'>;

export interface ReceiverOutcome {
  readonly ok: boolean;
  readonly receiverId: number;
  readonly sender: string;
  readonly bytes: number;
  readonly seconds: number;
  readonly digest: string;
  readonly reason: Reason;
  readonly detail: string;
  /** The failure was local I/O (disk, pipe command), not the transfer. */
  readonly ioError: boolean;
  readonly rcvBufBytes: number;
  /** > 0: joined late; slices joinSlice.. came live, the head after them. */
  readonly joinSlice: number;
  readonly stats: ReceiverStats;
  /** The UDP path used and the data socket's counters. */
  readonly io: { readonly path: string; readonly description: string; readonly data: Readonly<UdpSocketStats>; readonly placed: number };
  /**
   * Where the CPU went (ms): startup, recvSyscalls, recvCopy (placing DATA into slices, or
   * into the socket's slab), dataJs (the socket's read loop and the protocol core, per DATA),
   * fec (decoding), hash (SHA-256), sinkCalls (the sink's work on the main thread: the disk
   * writer's copies, decompression), mainOther, otherThreads (the disk writes and fsync on
   * libuv's pool, V8's GC and compiler threads).
   */
  readonly cpu: CpuBreakdown;
}

/** How often the driver tells the core what it measured of the pipeline and the event loop (for HEARTBEAT). */
const LOAD_SAMPLE_MS = 200;

/**
 * The pipeline's last stage, where the image leaves the receiver: a --pipe command (what it
 * does with the bytes is its own), else the unpacker, the disk writer or stdout.
 */
export function outputStage(r: SinkReport): { bytes: number; busySeconds: number } {
  if (r.pipe !== undefined) return r.pipe;
  if (r.unpack !== undefined) return { bytes: r.unpack.dataBytes, busySeconds: r.unpack.busySeconds };
  if (r.disk !== undefined) return r.disk;
  return r.stdout ?? { bytes: 0, busySeconds: 0 };
}

export class ReceiverDriver {
  /** Control: bound to portbase+1 in the rendezvous group; hears the sender and the other receivers' NAKs. */
  private readonly ctl: UdpSocket;
  private readonly data: UdpSocket;
  /**
   * Feedback: an ephemeral port of its own. Everything the core sends leaves from it: to
   * the sender's control endpoint (STATUS, JOIN, REPORT, LEAVE) or to the rendezvous group
   * (NAK). The sender answers this receiver alone (ACCEPT, REPORT_ACK) where it came from.
   */
  private readonly fb: UdpSocket;
  private core!: ReceiverCore;
  private readonly hash = createHash('sha256');
  private readonly queue: { offset: number; bytes: Uint8Array }[] = []; // bounded by the core's maxQueuedSlices
  /** The sink for writing at offsets, if it can; else why not (told to the core). */
  private readonly offsetSink: OffsetSink | undefined;
  private readonly lateJoinBlocker: string | undefined;
  /** Joined late: writes go to offsetSink, and the digest is taken by reading back. */
  private joinSlice = 0;
  /** The data group, once joined (openData); and whether we are in it now (the core may want out: receiver/core/passes.ts). */
  private dataGroup: string | undefined;
  /**
   * The data socket is bound and joined (or could not be): until then a session's datagrams
   * wait in the core. Our JOIN may be the one the sender starts on, and DATA it sends before
   * the kernel (and the NIC's multicast filter) take the data group is lost to us whole.
   */
  private dataSettled = false;
  private inDataGroup = false;
  private writing = false;
  private complete: { totalBytes: number; digest: Uint8Array } | undefined;
  private bytesQueued = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAtMs: number | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private finished: ((o: ReceiverOutcome) => void) | undefined;
  private startedAtMs: number | undefined;
  private sender = '';
  private digestHex = '';
  private ioError = false;
  private committed = false;
  private rcvBufBytes = 0;
  private loadAtMs = 0;
  private elu: EventLoopUtilization | undefined;
  readonly receiverId = randomInt(1, 0xffff_ffff);
  /** Slice memory: the pool DATA is placed into, or (RACKCAST_PLACEMENT=off) none. */
  private readonly memory: PlacementTable | undefined;
  private readonly placing: boolean;
  private readonly cpuAtStart: CpuStart;
  private readonly fecCpu = new CpuStage();
  private readonly hashCpu = new CpuStage();
  private readonly sinkCpu = new CpuStage();
  /** One input object for every run of placed records (the core reads it during the call only). */
  private readonly placedInput: { kind: 'placed'; records: Uint32Array; first: number; count: number } = {
    kind: 'placed',
    records: new Uint32Array(0),
    first: 0,
    count: 0,
  };

  constructor(
    private readonly coreOptions: Readonly<ReceiverCoreOptions>,
    private readonly net: Readonly<ReceiverNetConfig>,
    private readonly udp: UdpFactory,
    private readonly sink: Sink,
    private readonly log: Logger,
    private readonly onEvent: (ev: ReceiverEvent, core: ReceiverCore) => void = () => undefined,
    /** Milliseconds on a monotonic clock; a unit test gives the fake clock its timers run on. */
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.cpuAtStart = cpuStart();
    this.ctl = udp.create({ reuseAddr: true });
    this.data = udp.create({ reuseAddr: true });
    this.fb = udp.create({});
    const mode = process.env[PLACEMENT_ENV];
    this.memory = mode === 'off' ? undefined : new PlacementTable();
    this.placing = this.memory !== undefined && mode !== 'pool';
    const o = sink.offsetSink();
    this.offsetSink = typeof o === 'string' ? undefined : o;
    this.lateJoinBlocker = typeof o === 'string' ? o : undefined;
  }

  /** The sink in use: the offset-writing one once we joined late. */
  private get out(): Sink {
    return this.joinSlice > 0 ? this.offsetSink! : this.sink;
  }

  private now(): number {
    return this.clock();
  }

  get receiver(): ReceiverCore {
    return this.core;
  }

  async run(): Promise<ReceiverOutcome> {
    // Bound to the group, not 0.0.0.0: a socket bound to the wildcard gets every group any
    // socket on this host joined on that port, so two sessions sharing a port base (other
    // groups) would mix. The data socket is bound once HELLO names the data group.
    await this.bind(this.ctl, this.net.portbase + 1, this.net.rdvGroup);
    await this.fb.bind(0, this.net.interfaceAddress).catch((e: unknown) => {
      throw new IoError('socket', `cannot open the feedback socket on ${this.net.interfaceAddress ?? 'any address'}: ${oneLine(e)}`, { cause: e });
    });
    try {
      this.ctl.addMembership(this.net.rdvGroup, this.net.interfaceAddress);
      this.ctl.setRecvBufferSize(1 << 20);
      if (this.net.interfaceAddress !== undefined) this.fb.setMulticastInterface(this.net.interfaceAddress);
      this.fb.setMulticastTTL(this.net.ttl);
      this.fb.setMulticastLoopback(true);
    } catch (e) {
      throw new IoError('socket', `cannot set up multicast on ${this.net.interfaceAddress ?? 'the default interface'}: ${oneLine(e)}`, { cause: e });
    }
    this.rcvBufBytes = await this.probeRecvBuffer();
    this.log.info(
      { evt: 'socket.open', portbase: this.net.portbase, rcvbuf: this.rcvBufBytes, asked: this.net.rcvBufBytes, io: this.udp.description },
      'sockets open',
    );
    this.core = new ReceiverCore(
      Object.freeze({
        ...this.coreOptions,
        coder: timedCoder(this.coreOptions.coder, this.fecCpu),
        sliceMemory: this.memory,
        receiverId: this.receiverId,
        rcvBufBytes: this.rcvBufBytes,
        random: Math.random,
        lateJoinBlocker: this.lateJoinBlocker,
      }),
      this.now(),
    );
    const done = new Promise<ReceiverOutcome>((resolve) => {
      this.finished = resolve;
    });
    const onMessage = (bytes: Uint8Array, address: string, port: number): void => {
      this.core.handle({ kind: 'datagram', from: { address, port }, bytes }, this.now());
      this.kick();
    };
    this.ctl.onMessage(onMessage);
    this.data.onMessage(onMessage);
    this.fb.onMessage(onMessage);
    const onSocketError = (e: Error): void => {
      this.ioError = true;
      this.core.handle({ kind: 'abort', reason: Reason.Interrupted, detail: `socket: ${oneLine(e)}` }, this.now());
      this.kick();
    };
    this.ctl.onError(onSocketError);
    this.data.onError(onSocketError);
    this.fb.onError(onSocketError);
    this.kick();
    return done;
  }

  abort(reason: Reason, detail: string): void {
    this.core.handle({ kind: 'abort', reason, detail }, this.now());
    this.kick();
  }

  /** What the kernel grants the data socket (told to the sender in JOIN), asked of a throwaway socket. */
  private async probeRecvBuffer(): Promise<number> {
    const probe = this.udp.create({});
    try {
      await probe.bind(0);
      probe.setRecvBufferSize(this.net.rcvBufBytes);
      return probe.getRecvBufferSize();
    } catch (e) {
      throw new IoError('socket', `cannot set a ${this.net.rcvBufBytes}-byte receive buffer: ${oneLine(e)}`, { cause: e });
    } finally {
      await probe.close();
    }
  }

  private readonly onPlaced: PlacedHandler = (records, first, count) => {
    const input = this.placedInput;
    input.records = records;
    input.first = first;
    input.count = count;
    this.core.handle(input as ReceiverInput, this.now());
    this.kick();
  };

  /** Binds the data socket to the group HELLO named and joins it. */
  private async openData(group: string): Promise<void> {
    // The core opened its slice memory on that HELLO: from the first datagram on, DATA is placed.
    if (this.placing && this.memory !== undefined) this.data.setPlacement(this.memory, this.onPlaced);
    try {
      await this.data.bind(this.net.portbase, group);
      if (this.net.interfaceAddress !== undefined) this.data.setMulticastInterface(this.net.interfaceAddress);
      this.data.setRecvBufferSize(this.net.rcvBufBytes);
      this.data.addMembership(group, this.net.interfaceAddress);
      this.dataGroup = group;
      this.inDataGroup = true;
    } catch (e) {
      this.ioError = true;
      this.abort(Reason.Interrupted, `cannot join ${group} on port ${this.net.portbase}: ${oneLine(e)}`);
    } finally {
      // What waited (our JOIN) goes now.
      this.dataSettled = true;
      if (this.finished !== undefined) this.kick();
    }
  }

  private async bind(s: UdpSocket, port: number, address?: string): Promise<void> {
    await s.bind(port, address).catch((e: unknown) => {
      throw new IoError('socket', `cannot bind UDP port ${port}: ${oneLine(e)}`, { cause: e });
    });
  }

  private kick(): void {
    if (this.immediate !== undefined) return;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.turn();
    });
  }

  /** What the pipeline and the event loop did since the last sample, for the core's HEARTBEAT. */
  private sampleLoad(now: number): void {
    if (now - this.loadAtMs < LOAD_SAMPLE_MS) return;
    this.loadAtMs = now;
    const elu = performance.eventLoopUtilization();
    const busy = this.elu === undefined ? 0 : performance.eventLoopUtilization(elu, this.elu).utilization;
    this.elu = elu;
    const r = this.out.report();
    const out = outputStage(r);
    const decompressing = r.decompress !== undefined && r.decompress.format !== 'none';
    this.core.handle({ kind: 'load', cpuPermille: Math.round(busy * 1000), outputBytes: out.bytes, outputBusyMs: out.busySeconds * 1000, decompressing }, now);
  }

  private turn(): void {
    this.sampleLoad(this.now());
    // Before sendAll: the catch-up pass's first NAKs go out only once we hear the data group again.
    this.syncDataGroup();
    this.sendAll();
    for (let ev = this.core.pollEvent(); ev !== undefined; ev = this.core.pollEvent()) this.onCoreEvent(ev);
    if (this.finished === undefined) return;
    // The one timer, moved only when the core's deadline moves (most turns leave it as is).
    const t = this.core.pollTimeout();
    if (t === this.timerAtMs) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAtMs = t;
    if (t !== undefined) this.timer = setTimeout(this.onTimer, Math.max(0, t - this.now()));
  }

  /** Leaves or joins the data group as the core wants it (the catch-up pass, outrun by the first pass; everything delivered). */
  private syncDataGroup(): void {
    const group = this.dataGroup;
    // Over: the sockets close with the session.
    if (group === undefined || this.finished === undefined || this.core.dataWanted === this.inDataGroup) return;
    const join = !this.inDataGroup;
    try {
      if (join) this.data.addMembership(group, this.net.interfaceAddress);
      else this.data.dropMembership(group, this.net.interfaceAddress);
      this.inDataGroup = join;
      this.log.info(
        { evt: join ? 'dataGroup.join' : 'dataGroup.leave', group },
        join
          ? 'listening to the data group again'
          : this.core.currentState === 'receiving'
            ? 'outrun by the first pass: leaving the data group until the catch-up pass'
            : 'every slice delivered: leaving the data group',
      );
    } catch (e) {
      // Still in the group: we read what we would not have, nothing is lost. Out of it and
      // unable to join again: nothing more can come.
      if (join) {
        this.ioError = true;
        this.abort(Reason.Interrupted, `cannot join ${group} again for the catch-up pass: ${oneLine(e)}`);
      } else {
        this.dataGroup = undefined;
        this.log.warn({ evt: 'dataGroup.leave', group, detail: oneLine(e) }, `cannot leave ${group}: staying in it`);
      }
    }
  }

  /**
   * The sender is heard but its DATA is not (receiver/core/data-watch.ts): leave the data
   * group and join it again at once, so the kernel reports the membership anew and the NIC's
   * multicast filter is written again. What arrives between the two is lost like any loss.
   */
  private rejoinDataGroup(silentMs: number): void {
    const group = this.dataGroup;
    if (group === undefined || !this.inDataGroup) return;
    const detail = `no DATA for ${(silentMs / 1000).toFixed(1)} s while the sender asks about DATA we never saw: joining ${group} again`;
    this.log.warn({ evt: 'dataGroup.rejoin', group, silentMs, datagrams: this.data.stats.datagramsReceived }, detail);
    try {
      this.data.dropMembership(group, this.net.interfaceAddress);
    } catch {
      // Not in it as far as the kernel knows: joining is all that is left to do.
    }
    try {
      this.data.addMembership(group, this.net.interfaceAddress);
    } catch (e) {
      this.inDataGroup = false;
      this.ioError = true;
      this.abort(Reason.Interrupted, `cannot join ${group} again: ${oneLine(e)}`);
    }
  }

  /** What the core has to send: NAKs to the rendezvous group, the rest to the sender alone. */
  private sendAll(): void {
    // A session is open and its data socket not yet in the group: nothing goes out (dataSettled).
    if (!this.dataSettled && this.core.currentState !== 'listening') return;
    for (let t = this.core.pollTransmit(); t !== undefined; t = this.core.pollTransmit()) {
      if (t.to === 'group') this.fb.send([t.bytes], this.net.portbase + 1, this.net.rdvGroup);
      else this.fb.send([t.bytes], t.to.port, t.to.address);
    }
    this.fb.flush();
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAtMs = undefined;
    // Node runs timers before it polls sockets: after the process was descheduled, the
    // datagrams waiting in the kernel would look like silence to a NAK timer. The check
    // phase comes after the poll phase, so the core sees what arrived meanwhile first.
    setImmediate(() => {
      this.core.handleTimeout(this.now());
      this.turn();
    });
  };

  private onCoreEvent(ev: ReceiverEvent): void {
    this.onEvent(ev, this.core);
    switch (ev.kind) {
      case 'session':
        this.sender = ev.sender;
        this.log.info(
          { evt: 'session', session: ev.sessionId.toString(16), sender: ev.sender, group: ev.dataGroup, imageBytes: ev.imageBytes },
          'session found',
        );
        if (ev.dataPort !== this.net.portbase) {
          this.abort(Reason.ProtocolViolation, `sender sends data to port ${ev.dataPort}, not --portbase ${this.net.portbase}`);
          return;
        }
        void this.openData(ev.dataGroup);
        break;
      case 'accepted':
        // The core took a late ACCEPT only if the sink can write at offsets (lateJoinBlocker).
        this.joinSlice = ev.joinSlice;
        this.log.info({ evt: 'accepted', rcv: this.receiverId.toString(16), joinSlice: ev.joinSlice }, ev.joinSlice > 0 ? 'accepted late' : 'accepted');
        break;
      case 'head':
        this.log.info({ evt: 'head', slices: ev.slices }, 'rest of the image received; fetching the head');
        break;
      case 'catchUp':
        this.log.info({ evt: 'catchUp', why: ev.why, rateKBps: ev.rateKBps, paceKBps: ev.paceKBps }, 'moved to the catch-up pass');
        break;
      case 'dataGroupLeft':
        break; // syncDataGroup says it, when it acts
      case 'dataSilent':
        this.rejoinDataGroup(ev.silentMs);
        break;
      case 'catchUpBegan':
        this.log.info({ evt: 'catchUp.begin', fromSlice: ev.fromSlice }, 'catch-up pass begins');
        break;
      case 'started':
        this.startedAtMs = this.now();
        this.log.info({ evt: 'transfer.start', window: ev.windowPackets }, 'transfer started');
        break;
      case 'deliver':
        this.startedAtMs ??= this.now();
        // Late: slices come out of order; the digest is taken from the disk at the end.
        if (this.joinSlice === 0) {
          const t0 = this.hashCpu.begin();
          this.hash.update(ev.bytes);
          this.hashCpu.end(t0);
        }
        this.bytesQueued += ev.bytes.byteLength;
        this.queue.push({ offset: ev.offset, bytes: ev.bytes });
        void this.pumpWriter();
        break;
      case 'complete':
        this.complete = { totalBytes: ev.totalBytes, digest: ev.digest };
        void this.pumpWriter();
        break;
      case 'done':
        void this.finish(ev.ok, ev.reason, ev.detail);
        break;
    }
  }

  /** One write at a time, in order; when the last is written after 'complete', verify. */
  private async pumpWriter(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.queue.length > 0 && this.finished !== undefined) {
        const { offset, bytes: b } = this.queue[0]!;
        // CPU of the sink's call up to its first wait (the rest runs in its own continuations).
        const t0 = this.sinkCpu.begin();
        const written = this.joinSlice > 0 ? this.offsetSink!.writeAt(offset, b) : this.sink.write(b);
        this.sinkCpu.end(t0);
        await written;
        this.queue.shift();
        // The sink took the bytes: the slice's memory is reused.
        this.memory?.release(b);
        this.core.handle({ kind: 'written', slices: 1, bytes: b.byteLength }, this.now());
        this.kick();
      }
      if (this.complete !== undefined) {
        const c = this.complete;
        this.complete = undefined;
        await this.verify(c);
      }
    } catch (e) {
      this.queue.length = 0;
      // Once the core has ended (dropped, timed out, aborted), finish() discards the sink and
      // a write still in flight fails with it: that is not this receiver's I/O error.
      if (this.finished === undefined) return;
      this.ioError = true;
      const reason = isIoError(e, 'pipe') ? Reason.PipeFailed : Reason.WriteError;
      this.core.handle({ kind: 'abort', reason, detail: oneLine(e) }, this.now());
      this.kick();
    } finally {
      this.writing = false;
    }
  }

  private async verify(c: { totalBytes: number; digest: Uint8Array }): Promise<void> {
    await this.out.finish();
    // Late: the bytes went out of order; read the image back in order, from what was written.
    const digest = this.joinSlice > 0 ? Buffer.from(await this.offsetSink!.digestWritten(c.totalBytes)) : this.hash.digest();
    this.digestHex = digest.toString('hex');
    const sameDigest = Buffer.compare(digest, Buffer.from(c.digest)) === 0;
    const ok = sameDigest && this.bytesQueued === c.totalBytes;
    if (ok) {
      await this.out.commit();
      this.committed = true;
    }
    const detail = ok
      ? ''
      : sameDigest
        ? `size mismatch: ${this.bytesQueued} of ${c.totalBytes} bytes`
        : `digest mismatch: got sha256 ${this.digestHex}, sender has ${Buffer.from(c.digest).toString('hex')}`;
    this.log.info({ evt: 'verify', ok, digest: this.digestHex }, ok ? 'verified' : detail);
    this.core.handle({ kind: 'verified', ok, digest, reason: ok ? Reason.None : sameDigest ? Reason.SizeMismatch : Reason.DigestMismatch, detail }, this.now());
    this.kick();
  }

  private async finish(ok: boolean, reason: Reason, detail: string): Promise<void> {
    const resolve = this.finished;
    if (resolve === undefined) return;
    this.finished = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    // A last LEAVE/REPORT may still be queued in the core (it goes even if the data socket never settled).
    this.dataSettled = true;
    this.sendAll();
    this.queue.length = 0; // nothing more is written once the core has ended
    if (!ok || !this.committed) await this.out.discard();
    this.log.info({ evt: 'done', ok, reason: reasonName(reason), detail, stats: this.core.stats }, 'receiver done');
    // close() lets the queued LEAVE/REPORT go first.
    await this.fb.close();
    await this.ctl.close();
    await this.data.close();
    resolve({
      ok: ok && this.committed,
      receiverId: this.receiverId,
      sender: this.sender,
      bytes: this.core.progress.bytesWritten,
      seconds: this.startedAtMs === undefined ? 0 : (this.now() - this.startedAtMs) / 1000,
      digest: this.digestHex,
      reason,
      detail: ok && !this.committed ? 'not verified' : detail,
      ioError: this.ioError,
      rcvBufBytes: this.rcvBufBytes,
      joinSlice: this.joinSlice,
      stats: this.core.stats,
      io: { path: this.udp.path, description: this.udp.description, data: { ...this.data.stats }, placed: this.data.cpu.datagramsPlaced },
      cpu: this.cpuReport(),
    });
  }

  private cpuReport(): CpuBreakdown {
    const d = this.data.cpu;
    const c = this.ctl.cpu;
    const recvSyscalls = d.recvSyscallMs + c.recvSyscallMs;
    const recvCopy = d.recvCopyMs + c.recvCopyMs;
    return cpuBreakdown(this.cpuAtStart, {
      recvSyscalls,
      recvCopy,
      // FEC decodes inside the core, inside the socket's read loop.
      dataJs: d.readMs + c.readMs - recvSyscalls - recvCopy - this.fecCpu.ms,
      fec: this.fecCpu.ms,
      hash: this.hashCpu.ms,
      sinkCalls: this.sinkCpu.ms,
      sendSyscalls: d.sendSyscallMs + c.sendSyscallMs,
    });
  }
}
