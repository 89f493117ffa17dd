// Why over 500 lines (~520): one class, the UdpSocket contract on the addon; its send
// batching, receive slabs, placement and drain waiters share the addon handle and its
// state, so they stay together. The batch bookkeeping is the part that could move out next.
//
// The native UDP path behind the UdpSocket seam: an optional accelerator, node:dgram behind it.
//
// `NativeUdpSocket` runs the same contract as `DgramUdpSocket` (common/udp/dgram.ts) on the
// C++ addon built from native/udp.cc + native/udp-io.cc into build/Release/rackcast_udp.node
// (its raw binding, layouts and loader: native/udp-addon.ts):
//
// - send() copies each datagram into a batch buffer (one 64 KiB ArrayBuffer; no allocation per
//   datagram). Equal-size datagrams to one destination gather into a batch; a shorter one may
//   end it (GSO allows a short last segment). flush(), a full batch or a datagram that cannot
//   join sends the batch with ONE syscall: sendmsg + UDP_SEGMENT (GSO) or sendmmsg.
// - When the kernel buffer is full the batch waits (writable() is false), the addon polls the
//   fd for UV_WRITABLE, and the retry that empties the queue runs the onDrain waiters.
// - With `sendThread` (the sender's data socket) a flushed batch is queued to a thread of the
//   addon's own that makes the send syscalls and waits for room (native/send-thread.h): the
//   event loop goes on building batches meanwhile. Up to THREAD_QUEUE_BATCHES wait for it
//   before writable() says no; a batch's buffer comes back (#reclaim) once the thread counts
//   it done. settled() says when the thread has sent everything flushed.
// - Receiving: the addon polls the fd for UV_READABLE in Node's own loop and calls back once
//   per wake; each recv() call (one syscall: recvmsg with UDP_GRO, or recvmmsg) fills the unused
//   tail of a 1 MiB slab and a metadata array, and the handler gets a Uint8Array view per
//   datagram. Views are never overwritten: a full slab is replaced, and the old one lives as
//   long as some view does (Node's Buffer pool works the same way).
// - With setPlacement (the receiver's data socket), the addon copies DATA blocks straight into
//   their slices (common/udp/placement.ts) and the metadata holds a record for each instead;
//   runs of records go to the placed handler, in order with the datagrams around them.
//
// `loadNativeUdp()` says whether the addon loads and what it can do here; it never throws.
// RACKCAST_UDP_NO_GSO=1 / RACKCAST_UDP_NO_GRO=1 force sendmmsg / recvmmsg (tests, bug reports).

import {
  C_BATCHES_DONE,
  C_DATAGRAMS_RECEIVED,
  C_DATAGRAMS_SENT,
  C_RECV_CALLS,
  C_SEND_BLOCKED,
  C_SEND_CALLS,
  C_SEND_ERRORS,
  C_SEND_THREAD_NS,
  COUNTER_COUNT,
  CPU_COUNTER_COUNT,
  CPU_DATAGRAMS_PLACED,
  CPU_RECV_COPY_NS,
  CPU_RECV_SYSCALL_NS,
  CPU_SEND_SYSCALL_NS,
  EVENT_READABLE,
  EVENT_WRITABLE,
  FLAG_GRO,
  FLAG_GSO,
  FLAG_REUSE_ADDR,
  loadUdpAddon,
  MAX_BATCH_BYTES,
  MAX_BATCH_DATAGRAMS,
  META_ENTRIES,
  type NativeSocketHandle,
  PLACED_MARK,
  RECV_ROOM_BYTES,
} from '../../native/udp-addon.js';
import { formatIpv4, parseIpv4 } from '../../protocol/ipv4.js';
import { CpuStage } from '../cpu-clock.js';
import type { PlacedHandler, PlacementTable } from './placement.js';
import type { MessageHandler, UdpCpuStats, UdpSocket, UdpSocketStats } from './socket.js';

/** Environment variables that turn the offloads off. */
export const UDP_NO_GSO_ENV = 'RACKCAST_UDP_NO_GSO';
export const UDP_NO_GRO_ENV = 'RACKCAST_UDP_NO_GRO';

/** Largest UDP payload over IPv4. */
export const MAX_DATAGRAM_BYTES = 65507;

/** Batch buffer: one datagram of MAX_DATAGRAM_BYTES fits, and so does any batch. */
const BATCH_BUFFER_BYTES = 65536;
/**
 * Batches that may wait for the kernel while the caller ignores writable() (4 MiB). Past
 * that, send() drops the datagram and counts it in sendErrors, as a full qdisc would.
 */
const MAX_PENDING_BATCHES = 64;
/**
 * With a send thread: batches queued to it (1 MiB) before writable() says no. Enough that the
 * thread never runs dry while the loop has work; few enough that a control message waiting
 * for settled() waits at most about a millisecond at line rate.
 */
const THREAD_QUEUE_BATCHES = 16;
/** ...and onDrain's waiters run once fewer than this are left. */
const THREAD_LOW_BATCHES = 8;
/**
 * Idle batch buffers kept for reuse: as many as the send thread's queue holds, since it hands
 * them back in bursts. With 4 the sender made a fresh zeroed 64 KiB buffer for most batches
 * (1 GiB at MTU 9000: newBatch took 79 ms of the loop's thread, and GC 52 ms against 37 now).
 */
const MAX_FREE_BATCHES = THREAD_QUEUE_BATCHES;

/** Receive slab; the addon needs RECV_ROOM_BYTES free in it per call. */
const SLAB_BYTES = 1 << 20;
/** Receive syscalls per wake, so a flood never starves timers and the send path. */
const MAX_RECV_CALLS_PER_WAKE = 32;

function envOff(name: string): boolean {
  return process.env[name] === '1';
}

function featureString(gso: boolean, gro: boolean): string {
  return `${gso ? 'gso' : 'sendmmsg'}+${gro ? 'gro' : 'recvmmsg'}`;
}

/**
 * Whether the native path can run here, and what it does: "gso+gro", "gso+recvmmsg",
 * "sendmmsg+recvmmsg", ... (after RACKCAST_UDP_NO_GSO / RACKCAST_UDP_NO_GRO). Never throws.
 */
export function loadNativeUdp(): { ok: true; features: string } | { ok: false; reason: string } {
  const load = loadUdpAddon();
  if (!load.ok) return { ok: false, reason: load.reason };
  return { ok: true, features: featureString(load.gso && !envOff(UDP_NO_GSO_ENV), load.gro && !envOff(UDP_NO_GRO_ENV)) };
}

/** A batch being filled, or waiting for the kernel. */
interface Batch {
  readonly buf: ArrayBuffer;
  readonly bytes: Uint8Array;
  /** Bytes used. */
  used: number;
  count: number;
  /** Size of every datagram but the last. */
  segBytes: number;
  lastBytes: number;
  /** A short datagram (or a zero-length one) ended the batch: nothing may join it. */
  closed: boolean;
  ip: number;
  /** 0: the connected peer. */
  port: number;
  /** Datagrams already handed to the kernel by an earlier, blocked attempt. */
  first: number;
}

function newBatch(): Batch {
  const buf = new ArrayBuffer(BATCH_BUFFER_BYTES);
  return { buf, bytes: new Uint8Array(buf), used: 0, count: 0, segBytes: 0, lastBytes: 0, closed: false, ip: 0, port: 0, first: 0 };
}

export interface NativeUdpSocketOptions {
  readonly reuseAddr?: boolean;
  /** Receive with UDP_GRO when the kernel has it (default true; RACKCAST_UDP_NO_GRO=1 turns it off). */
  readonly gro?: boolean;
  /** Send syscalls on a thread of their own (default false; RACKCAST_UDP_NO_SEND_THREAD=1 turns it off). */
  readonly sendThread?: boolean;
}

/** Environment variable that keeps the send syscalls on the event loop's thread. */
export const UDP_NO_SEND_THREAD_ENV = 'RACKCAST_UDP_NO_SEND_THREAD';

/**
 * UdpSocket on the native addon. Throws (Error) when the addon is not available; call
 * loadNativeUdp() first. Addresses are IPv4 literals (no name lookup). Socket option calls
 * throw one-line Errors with Node's `code`/`errno`/`syscall`; bind/connect reject with them.
 */
export class NativeUdpSocket implements UdpSocket {
  readonly path = 'native' as const;
  readonly stats: Readonly<UdpSocketStats>;
  readonly cpu: Readonly<UdpCpuStats>;
  readonly #h: NativeSocketHandle;
  readonly #counters = new Float64Array(COUNTER_COUNT);
  readonly #cpuCounters = new Float64Array(CPU_COUNTER_COUNT);

  #open = true;
  #reading = false;
  #connected = false;

  // Send side. #pending: batches flushed but not (wholly) taken by the kernel, oldest first;
  // bounded by MAX_PENDING_BATCHES. #free: bounded by MAX_FREE_BATCHES.
  readonly #pending: Batch[] = [];
  readonly #free: Batch[] = [];
  /** Batch buffers made so far (see batchBuffersMade); #takeBatch counts them. */
  #batchesMade = 0;
  #cur: Batch = this.#takeBatch();
  /** The addon polls for UV_WRITABLE: the head of #pending waits for room. */
  #waitingWritable = false;
  // UNBOUNDED: one entry per onDrain call while blocked; the driver registers one at a time.
  #drainWaiters: (() => void)[] = [];
  // With a send thread: batches it has finished that went back to #free; waiters for settled()
  // (UNBOUNDED as #drainWaiters); the notifyBelow threshold asked for (0: none).
  #threaded = false;
  #reclaimed = 0;
  #settledWaiters: (() => void)[] = [];
  #notifyBelow = 0;
  #lastDestText = '';
  #lastDestIp = 0;

  // Receive side.
  #slab = new ArrayBuffer(SLAB_BYTES);
  #slabOff = 0;
  readonly #meta = new Uint32Array(4 * META_ENTRIES);
  #lastSrcIp = -1;
  #lastSrcText = '';
  // Both bounded by the caller's onMessage/onError calls (a driver registers one of each).
  readonly #handlers: MessageHandler[] = [];
  readonly #errorHandlers: ((e: Error) => void)[] = [];
  #onPlaced: PlacedHandler | undefined;
  readonly #readCpu = new CpuStage();
  readonly #drainCpu = new CpuStage();

  constructor(opts: NativeUdpSocketOptions = {}) {
    const load = loadUdpAddon();
    if (!load.ok) throw new Error(load.reason);
    let flags = 0;
    if (opts.reuseAddr === true) flags |= FLAG_REUSE_ADDR;
    if (!envOff(UDP_NO_GSO_ENV)) flags |= FLAG_GSO;
    if ((opts.gro ?? true) && !envOff(UDP_NO_GRO_ENV)) flags |= FLAG_GRO;
    this.#h = new load.addon.Socket(flags, this.#counters, this.#onEvent);
    this.#h.setCpuCounters(this.#cpuCounters);
    if (opts.sendThread === true && !envOff(UDP_NO_SEND_THREAD_ENV)) {
      this.#h.startSendThread();
      this.#threaded = true;
    }
    const c = this.#counters;
    // Own enumerable getters: `{ ...stats }`, JSON and toEqual see live values.
    const stats = {};
    const field = (name: keyof UdpSocketStats, i: number): void => {
      Object.defineProperty(stats, name, { enumerable: true, get: () => c[i] });
    };
    field('datagramsSent', C_DATAGRAMS_SENT);
    field('sendCalls', C_SEND_CALLS);
    field('sendBlocked', C_SEND_BLOCKED);
    field('sendErrors', C_SEND_ERRORS);
    field('datagramsReceived', C_DATAGRAMS_RECEIVED);
    field('recvCalls', C_RECV_CALLS);
    this.stats = stats as Readonly<UdpSocketStats>;
    const cpu = {};
    const cc = this.#cpuCounters;
    const ms = (name: keyof UdpCpuStats, i: number): void => {
      Object.defineProperty(cpu, name, { enumerable: true, get: () => cc[i]! / 1e6 });
    };
    ms('sendSyscallMs', CPU_SEND_SYSCALL_NS);
    Object.defineProperty(cpu, 'sendThreadMs', { enumerable: true, get: () => c[C_SEND_THREAD_NS]! / 1e6 });
    ms('recvSyscallMs', CPU_RECV_SYSCALL_NS);
    ms('recvCopyMs', CPU_RECV_COPY_NS);
    Object.defineProperty(cpu, 'readMs', { enumerable: true, get: () => this.#readCpu.ms });
    Object.defineProperty(cpu, 'drainMs', { enumerable: true, get: () => this.#drainCpu.ms });
    Object.defineProperty(cpu, 'datagramsPlaced', { enumerable: true, get: () => cc[CPU_DATAGRAMS_PLACED] });
    this.cpu = cpu as Readonly<UdpCpuStats>;
  }

  /** "gso+gro", "sendmmsg+recvmmsg", ...: what this socket does now (GSO can turn itself off). */
  get features(): string {
    return this.#open ? featureString(this.#h.gso, this.#h.gro) : 'closed';
  }

  bind(port: number, address?: string): Promise<void> {
    try {
      this.#h.bind(address === undefined ? 0 : this.#ip(address, 'bind'), checkPort(port, true));
      this.#startReading();
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  connect(port: number, address: string): Promise<void> {
    try {
      this.#h.connect(this.#ip(address, 'connect'), checkPort(port, false));
      this.#connected = true;
      this.#startReading();
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The bound address and port (after bind, connect or the first send). */
  address(): { address: string; port: number } {
    const [ip, port] = this.#h.localAddress();
    return { address: formatIpv4(ip), port };
  }

  addMembership(group: string, interfaceAddress?: string): void {
    this.#h.addMembership(this.#ip(group, 'addMembership'), interfaceAddress === undefined ? 0 : this.#ip(interfaceAddress, 'addMembership'));
  }
  dropMembership(group: string, interfaceAddress?: string): void {
    this.#h.dropMembership(this.#ip(group, 'dropMembership'), interfaceAddress === undefined ? 0 : this.#ip(interfaceAddress, 'dropMembership'));
  }
  setMulticastInterface(address: string): void {
    this.#h.setMulticastInterface(this.#ip(address, 'setMulticastInterface'));
  }
  setMulticastTTL(ttl: number): void {
    this.#h.setMulticastTTL(ttl);
  }
  setMulticastLoopback(on: boolean): void {
    this.#h.setMulticastLoopback(on);
  }
  setSendBufferSize(bytes: number): void {
    this.#h.setBufferSize(true, bytes);
  }
  setRecvBufferSize(bytes: number): void {
    this.#h.setBufferSize(false, bytes);
  }
  getSendBufferSize(): number {
    return this.#h.getBufferSize(true);
  }
  getRecvBufferSize(): number {
    return this.#h.getBufferSize(false);
  }

  send(parts: readonly Uint8Array[], port?: number, address?: string): void {
    if (!this.#open) throw new Error('send on a closed socket');
    let len = 0;
    for (let i = 0; i < parts.length; i++) len += parts[i]!.byteLength;
    if (len > MAX_DATAGRAM_BYTES) throw new RangeError(`datagram of ${len} bytes is larger than ${MAX_DATAGRAM_BYTES}`);
    let ip = 0;
    let dport = 0;
    if (port === undefined) {
      if (!this.#connected) throw new Error('send without an address on an unconnected socket');
    } else {
      dport = checkPort(port, false);
      ip = this.#destIp(address ?? '127.0.0.1');
    }
    if (!this.#reading) this.#startReading(); // the kernel binds an unbound socket on its first send, as dgram does

    let b = this.#cur;
    if (b.count > 0 && !(b.ip === ip && b.port === dport && !b.closed && len > 0 && len <= b.segBytes && b.used + len <= MAX_BATCH_BYTES)) {
      this.#flushCurrent();
      b = this.#cur;
    }
    if (b.count === 0) {
      if (this.#threaded && this.#pending.length >= MAX_PENDING_BATCHES) this.#reclaim();
      if (this.#pending.length >= MAX_PENDING_BATCHES) {
        this.#counters[C_SEND_ERRORS]!++;
        return;
      }
      b.segBytes = len;
      b.ip = ip;
      b.port = dport;
      b.closed = len === 0;
    } else if (len < b.segBytes) {
      b.closed = true;
    }
    let at = b.used;
    for (let i = 0; i < parts.length; i++) {
      b.bytes.set(parts[i]!, at);
      at += parts[i]!.byteLength;
    }
    b.used = at;
    b.lastBytes = len;
    b.count++;
    // Nothing more can join: send now rather than on the next send() or flush().
    if (b.closed || b.count === MAX_BATCH_DATAGRAMS || b.used + b.segBytes > MAX_BATCH_BYTES) this.#flushCurrent();
  }

  flush(): void {
    if (this.#open && this.#cur.count > 0) this.#flushCurrent();
  }

  writable(): boolean {
    if (!this.#threaded) return this.#pending.length === 0;
    this.#reclaim();
    return this.#pending.length < THREAD_QUEUE_BATCHES;
  }

  onDrain(cb: () => void): void {
    if (this.#open) this.#waitFor(this.writable(), cb, this.#drainWaiters);
  }

  settled(): boolean {
    if (!this.#threaded) return this.writable();
    this.#reclaim();
    return this.#pending.length === 0;
  }

  onSettled(cb: () => void): void {
    if (!this.#threaded) this.onDrain(cb);
    else if (this.#open) this.#waitFor(this.settled(), cb, this.#settledWaiters);
  }

  /** cb soon when `ready`, else once it is: from the waiter list `waiters`. */
  #waitFor(ready: boolean, cb: () => void, waiters: (() => void)[]): void {
    if (ready) {
      setImmediate(() => {
        if (this.#open) cb();
      });
      return;
    }
    waiters.push(cb);
    if (this.#threaded) this.#askNotify();
  }

  /** Runs waiters in order while the socket stays open; false if one closed it. */
  #run(waiters: readonly (() => void)[]): boolean {
    for (const w of waiters) {
      if (!this.#open) return false;
      w();
    }
    return this.#open;
  }

  onMessage(handler: MessageHandler): void {
    this.#handlers.push(handler);
  }

  onError(handler: (e: Error) => void): void {
    this.#errorHandlers.push(handler);
  }

  setPlacement(table: PlacementTable, onPlaced: PlacedHandler): void {
    if (!this.#open || !table.enabled) return;
    this.#onPlaced = onPlaced;
    this.#h.setPlacement(table.words, table.pool);
  }

  /**
   * Sends what is batched if the kernel takes it at once, drops anything still waiting, stops
   * both polls and closes the fd. No callback of this socket runs afterwards.
   */
  close(): Promise<void> {
    if (!this.#open) return Promise.resolve();
    if (this.#cur.count > 0) this.#flushCurrent();
    this.#open = false;
    this.#h.close();
    this.#pending.length = 0;
    this.#drainWaiters = [];
    this.#settledWaiters = [];
    this.#handlers.length = 0;
    this.#onPlaced = undefined;
    return Promise.resolve();
  }

  /** Test hook: 64 KiB batch buffers made since the socket opened (the free list bounds them). */
  get batchBuffersMade(): number {
    return this.#batchesMade;
  }

  /** Test hook: the next `calls` send syscalls fail with `errno` (a number) without reaching the kernel. */
  injectSendErrors(errno: number, calls: number): void {
    this.#h.injectSendErrors(errno, calls);
  }

  #startReading(): void {
    if (this.#reading) return;
    this.#h.startReading();
    this.#reading = true;
  }

  #ip(text: string, what: string): number {
    const ip = parseIpv4(text);
    if (ip === undefined) throw new TypeError(`${what}: '${text}' is not an IPv4 address (the native path does no name lookup)`);
    return ip;
  }

  /** The destination's uint32, parsing only when it changes (a sender uses one or two). */
  #destIp(text: string): number {
    if (text !== this.#lastDestText) {
      this.#lastDestIp = this.#ip(text, 'send');
      this.#lastDestText = text;
    }
    return this.#lastDestIp;
  }

  #flushCurrent(): void {
    const b = this.#cur;
    this.#pending.push(b);
    if (this.#threaded) {
      this.#reclaim();
      this.#cur = this.#takeBatch();
      this.#h.queueBatch(b.buf, b.segBytes, b.count, b.lastBytes, b.ip, b.port);
      return;
    }
    this.#cur = this.#takeBatch();
    if (!this.#waitingWritable) this.#pump();
  }

  /** An idle batch buffer, or a new one. */
  #takeBatch(): Batch {
    const b = this.#free.pop();
    if (b !== undefined) return b;
    this.#batchesMade++;
    return newBatch();
  }

  /** A batch the kernel has taken whole: emptied, and kept for reuse while #free has room. */
  #recycle(b: Batch): void {
    b.used = 0;
    b.count = 0;
    b.first = 0;
    if (this.#free.length < MAX_FREE_BATCHES) this.#free.push(b);
  }

  /** With a send thread: the batches it has finished go back to #free (they finish in order). */
  #reclaim(): void {
    const done = this.#counters[C_BATCHES_DONE]!;
    while (this.#reclaimed < done && this.#pending.length > 0) {
      this.#recycle(this.#pending.shift()!);
      this.#reclaimed++;
    }
  }

  /** With a send thread: a writable event when the strictest waiter can run (settled: none left; drain: below the low mark). */
  #askNotify(): void {
    const below = this.#settledWaiters.length > 0 ? 1 : this.#drainWaiters.length > 0 ? THREAD_LOW_BATCHES : 0;
    if (below === this.#notifyBelow) return;
    this.#notifyBelow = below;
    this.#h.notifyBelow(below);
  }

  /** With a send thread: the thread's queue went low; runs the waiters that can run now. */
  #wake(): void {
    this.#notifyBelow = 0;
    this.#reclaim();
    if (this.#drainWaiters.length > 0 && this.#pending.length < THREAD_LOW_BATCHES) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      if (!this.#run(waiters)) return;
    }
    if (this.#settledWaiters.length > 0 && this.#pending.length === 0) {
      const waiters = this.#settledWaiters;
      this.#settledWaiters = [];
      if (!this.#run(waiters)) return;
    }
    this.#askNotify();
  }

  /** Hands waiting batches to the kernel until it says the buffer is full. */
  #pump(): void {
    const q = this.#pending;
    while (q.length > 0) {
      const b = q[0]!;
      b.first = this.#h.sendBatch(b.buf, b.segBytes, b.count, b.lastBytes, b.first, b.ip, b.port);
      if (b.first < b.count) {
        if (!this.#waitingWritable) {
          this.#h.setWantWritable(true);
          this.#waitingWritable = true;
        }
        return;
      }
      q.shift();
      this.#recycle(b);
    }
    if (this.#waitingWritable) {
      this.#h.setWantWritable(false);
      this.#waitingWritable = false;
    }
    if (this.#drainWaiters.length > 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      this.#run(waiters);
    }
  }

  readonly #onEvent = (events: number, error?: string): void => {
    if (!this.#open) return;
    if (error !== undefined) this.#emitError(new Error(error));
    if ((events & EVENT_WRITABLE) !== 0 && this.#threaded) {
      const t0 = this.#drainCpu.begin();
      try {
        this.#wake();
      } finally {
        this.#drainCpu.end(t0);
      }
    } else if ((events & EVENT_WRITABLE) !== 0 && this.#waitingWritable) {
      const t0 = this.#drainCpu.begin();
      try {
        this.#pump();
      } finally {
        this.#drainCpu.end(t0);
      }
    }
    if ((events & EVENT_READABLE) !== 0 && this.#open) this.#readAll();
  };

  #emitError(e: Error): void {
    // As for an EventEmitter 'error' without a listener: nobody asked, so it is thrown.
    if (this.#errorHandlers.length === 0) throw e;
    for (const h of this.#errorHandlers) h(e);
  }

  /** Up to MAX_RECV_CALLS_PER_WAKE receive syscalls, each batch handed out datagram by datagram (and run of records by run). */
  #readAll(): void {
    const t0 = this.#readCpu.begin();
    try {
      this.#readBatches();
    } finally {
      this.#readCpu.end(t0);
    }
  }

  #readBatches(): void {
    const meta = this.#meta;
    const counters = this.#counters;
    const syscallsBefore = counters[C_RECV_CALLS]!;
    // A call may take no syscall (it hands on what an earlier one left, e.g. after placement
    // stopped for the core to open a slice): the bound counts syscalls, and calls as a backstop.
    for (let call = 0; call < 4 * MAX_RECV_CALLS_PER_WAKE && counters[C_RECV_CALLS]! - syscallsBefore < MAX_RECV_CALLS_PER_WAKE; call++) {
      if (this.#slab.byteLength - this.#slabOff < RECV_ROOM_BYTES) {
        // Views into the old slab stay valid; it is freed once none is left.
        this.#slab = new ArrayBuffer(SLAB_BYTES);
        this.#slabOff = 0;
      }
      const slab = this.#slab;
      let n: number;
      try {
        n = this.#h.recv(slab, this.#slabOff, meta);
      } catch (e) {
        this.#emitError(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      if (n === 0) return;
      // Claim the bytes before any handler runs, so nothing can land on them again.
      for (let k = n - 1; k >= 0; k--) {
        if ((meta[4 * k + 1]! & PLACED_MARK) === 0) {
          this.#slabOff = meta[4 * k]! + meta[4 * k + 1]!;
          break;
        }
      }
      const handlers = this.#handlers;
      let run = 0; // placed records waiting to be handed on, ending at k
      for (let k = 0; k < n; k++) {
        const e = 4 * k;
        if ((meta[e + 1]! & PLACED_MARK) !== 0) {
          run++;
          continue;
        }
        if (run > 0) {
          this.#onPlaced?.(meta, k - run, run);
          run = 0;
          if (!this.#open) return;
        }
        const ip = meta[e + 2]!;
        if (ip !== this.#lastSrcIp) {
          this.#lastSrcIp = ip;
          this.#lastSrcText = formatIpv4(ip);
        }
        const bytes = new Uint8Array(slab, meta[e], meta[e + 1]);
        const port = meta[e + 3]!;
        for (let i = 0; i < handlers.length; i++) handlers[i]!(bytes, this.#lastSrcText, port);
        if (!this.#open) return;
      }
      if (run > 0) {
        this.#onPlaced?.(meta, n - run, run);
        if (!this.#open) return;
      }
    }
  }
}

function checkPort(port: number, zeroOk: boolean): number {
  if (!Number.isInteger(port) || port < (zeroOk ? 0 : 1) || port > 65535)
    throw new RangeError(`port must be an integer in ${zeroOk ? 0 : 1}..65535, got ${port}`);
  return port;
}
