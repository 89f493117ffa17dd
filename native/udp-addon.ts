// The UDP I/O addon's raw binding: what build/Release/rackcast_udp.node exports (built from
// native/udp.cc + native/udp-io.cc), the JS↔C++ layouts its calls share (counters, flags,
// poll events, receive metadata; the tables at the top of udp.cc), and whether it loads
// and what the kernel offers here. The UdpSocket on top of it is common/udp/native.ts.

import { loadAddon } from './load-addon.js';

/** File name of the built addon (binding.gyp target `rackcast_udp`). */
export const UDP_ADDON_FILE = 'rackcast_udp.node';

/** Datagrams per batch: UDP_MAX_SEGMENTS on kernels with UDP_SEGMENT (native/udp-io.h). */
export const MAX_BATCH_DATAGRAMS = 64;
/** Bytes per multi-datagram batch (native/udp-io.h kMaxBatchBytes). */
export const MAX_BATCH_BYTES = 65000;

/** Free bytes a receive slab needs per recv() call. */
export const RECV_ROOM_BYTES = 65536;
/** Datagrams described per recv() call (native/udp-io.h kMinMetaEntries); 4 u32 each: offset, length, source IPv4, source port. */
export const META_ENTRIES = 256;

// Indices of the addon's counters (native/udp.cc, counters table).
export const C_DATAGRAMS_SENT = 0;
export const C_SEND_CALLS = 1;
export const C_SEND_BLOCKED = 2;
export const C_SEND_ERRORS = 3;
export const C_DATAGRAMS_RECEIVED = 4;
export const C_RECV_CALLS = 5;
/** Batches the send thread finished (startSendThread), and its CPU time in ns. */
export const C_BATCHES_DONE = 6;
export const C_SEND_THREAD_NS = 7;
export const COUNTER_COUNT = 8;

// Indices of the cpu counters (native/udp.cc, setCpuCounters).
export const CPU_SEND_SYSCALL_NS = 0;
export const CPU_RECV_SYSCALL_NS = 1;
export const CPU_RECV_COPY_NS = 2;
export const CPU_DATAGRAMS_PLACED = 3;
export const CPU_PLACE_STOPS = 4;
export const CPU_COUNTER_COUNT = 5;

// DATA placement: the table of u32 words JS shares with the addon (native/udp-io.h, "DATA
// placement"; common/udp/placement.ts writes it and holds the TS reference of the placement).
export const PLACE_ENABLED = 0;
export const PLACE_SESSION = 1;
export const PLACE_SENDER_IP = 2;
export const PLACE_BLOCK_BYTES = 3;
export const PLACE_BASE = 4;
export const PLACE_WINDOW = 5;
export const PLACE_ENTRY_COUNT = 6;
export const PLACE_DATA_HEAD = 7;
export const PLACE_HEADER_WORDS = 8;
export const PLACE_ENTRY_WORDS = 6;
export const ENTRY_SLICE_NO = 0;
export const ENTRY_OPEN = 1;
export const ENTRY_SLICE_BYTES = 2;
export const ENTRY_POOL_OFFSET = 3;
export const ENTRY_FINAL_MASK = 4;
export const ENTRY_HAVE_OFFSET = 5;
/** finalMask bits: DATA without / with the FINAL_SLICE flag is taken. */
export const FINAL_MASK_CLEAR = 1;
export const FINAL_MASK_SET = 2;
/** Bit 31 of meta[4k + 1] marks a placed record: [seq, PLACED_MARK | sliceBytes, sliceNo, blockNo | flags << 16]. */
export const PLACED_MARK = 0x8000_0000;

// Socket flags and poll events (native/udp.cc).
export const FLAG_REUSE_ADDR = 1;
export const FLAG_GSO = 2;
export const FLAG_GRO = 4;
export const EVENT_READABLE = 1;
export const EVENT_WRITABLE = 2;

/** The addon's socket; the calling convention is documented in native/udp.cc. Addresses are host-order u32s. */
export interface NativeSocketHandle {
  readonly gso: boolean;
  readonly gro: boolean;
  bind(ip: number, port: number): void;
  connect(ip: number, port: number): void;
  localAddress(): [number, number];
  addMembership(group: number, iface: number): void;
  dropMembership(group: number, iface: number): void;
  setMulticastInterface(ip: number): void;
  setMulticastTTL(ttl: number): void;
  setMulticastLoopback(on: boolean): void;
  setBufferSize(send: boolean, bytes: number): void;
  getBufferSize(send: boolean): number;
  startReading(): void;
  setWantWritable(on: boolean): void;
  sendBatch(buf: ArrayBuffer, segBytes: number, count: number, lastBytes: number, first: number, ip: number, port: number): number;
  /** Send syscalls on a thread of their own from now on: queueBatch instead of sendBatch. */
  startSendThread(): void;
  /** The batch as for sendBatch, for the send thread; `buf` must stay untouched until C_BATCHES_DONE counts it. */
  queueBatch(buf: ArrayBuffer, segBytes: number, count: number, lastBytes: number, ip: number, port: number): void;
  /** A writable event once, as soon as fewer than `below` queued batches are unfinished; 0 cancels. */
  notifyBelow(below: number): void;
  recv(slab: ArrayBuffer, off: number, meta: Uint32Array): number;
  /** Where the cpu counters (CPU_*) go from now on. */
  setCpuCounters(cpu: Float64Array): void;
  /** DATA placement on (the table's layout: PLACE_*, ENTRY_*) or off (null, null). */
  setPlacement(table: Uint32Array | null, pool: Uint8Array | null): void;
  injectSendErrors(errno: number, calls: number): void;
  close(): void;
}

export interface NativeUdpAddon {
  probe(): { gso: boolean; gro: boolean; error?: string };
  /** The calling thread's CPU time in ns (CLOCK_THREAD_CPUTIME_ID). */
  threadCpuNs(): number;
  /** The index of the view's first byte whose address is a multiple of `align` (a power of two). */
  alignOffset(view: Uint8Array, align: number): number;
  /** The addon's DATA placement alone (0 placed, 1 raw, 2 raw + stop): the differential test's handle on it. */
  placeDatagram(table: Uint32Array, pool: Uint8Array, bytes: Uint8Array, srcIp: number, rec: Uint32Array): number;
  Socket: new (flags: number, counters: Float64Array, onEvent: (events: number, error?: string) => void) => NativeSocketHandle;
}

export type UdpAddonLoad =
  | { readonly ok: true; readonly addon: NativeUdpAddon; readonly gso: boolean; readonly gro: boolean }
  | { readonly ok: false; readonly reason: string };

function isUdpAddon(x: unknown): x is NativeUdpAddon {
  if (typeof x !== 'object' || x === null) return false;
  const a = x as Partial<NativeUdpAddon>;
  return typeof a.probe === 'function' && typeof a.Socket === 'function' && typeof a.threadCpuNs === 'function' && typeof a.alignOffset === 'function';
}

let udpLoad: UdpAddonLoad | undefined;

/** Loads the addon and probes the kernel once; never throws. */
export function loadUdpAddon(): UdpAddonLoad {
  if (udpLoad !== undefined) return udpLoad;
  if (process.platform !== 'linux') {
    udpLoad = { ok: false, reason: `native UDP I/O is Linux-only (this is ${process.platform})` };
    return udpLoad;
  }
  const load = loadAddon({ file: UDP_ADDON_FILE, label: 'native UDP addon', isAddon: isUdpAddon });
  if (!load.ok) {
    udpLoad = load;
    return udpLoad;
  }
  try {
    const probe = load.addon.probe();
    udpLoad =
      probe.error !== undefined
        ? { ok: false, reason: `native UDP addon cannot open a socket: ${probe.error}` }
        : { ok: true, addon: load.addon, gso: probe.gso, gro: probe.gro };
  } catch (e) {
    udpLoad = { ok: false, reason: `native UDP addon ${load.path} failed to load: ${e instanceof Error ? e.message : String(e)}` };
  }
  return udpLoad;
}
