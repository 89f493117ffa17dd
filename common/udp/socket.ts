// The drivers' UDP socket seam: one small interface, two paths, all of it in common/udp/:
//
// - `DgramUdpSocket` (dgram.ts): node:dgram, one datagram per syscall. Always available.
// - `NativeUdpSocket` (native.ts): the C++ addon (its raw binding is native/udp-addon.ts),
//   which batches sends with UDP_SEGMENT (GSO) or sendmmsg and reads with UDP_GRO or recvmmsg.
// - select.ts picks one at start-up (`--io auto|native|dgram`) and says which once;
//   common/auth/sealed-socket.ts decorates either (--key-file).
//
// Contract for send(): the datagram is `parts` concatenated. The bytes must stay unchanged
// until the socket is writable() again after a flush() (dgram hands them to libuv, which may
// queue them; the native path copies them into its batch at once). The sender core's header
// ring and slice retention keep that promise.

import type { PlacedHandler, PlacementTable } from './placement.js';

export type IoPath = 'native' | 'dgram';

export type MessageHandler = (bytes: Uint8Array, address: string, port: number) => void;

export interface UdpSocketStats {
  /** Datagrams handed to the kernel. */
  datagramsSent: number;
  /** Send syscalls (sendmsg/sendmmsg/uv_udp_send); equals datagramsSent for dgram. */
  sendCalls: number;
  /** Times the kernel buffer was full (EAGAIN/ENOBUFS) and sending waited for it to drain. */
  sendBlocked: number;
  /** Datagrams the kernel refused with another error (counted, not fatal: repair covers them). */
  sendErrors: number;
  datagramsReceived: number;
  /** Receive syscalls (recvmsg/recvmmsg); 0 for dgram, which does not say. */
  recvCalls: number;
}

/** Where a socket's CPU time went (for the drivers' breakdown; estimates from a sample of the calls, common/cpu-clock.ts). */
export interface UdpCpuStats {
  /** Inside send syscalls (native path; 0 for dgram, which does not say). With a send thread, on that thread. */
  sendSyscallMs: number;
  /** The send thread's whole CPU time (native path with sendThread; else 0): the send syscalls and their waits. */
  sendThreadMs: number;
  /** Inside receive syscalls (native path). */
  recvSyscallMs: number;
  /** Copying received datagrams out of the kernel's batch: into slices (placement) or the slab (native path). */
  recvCopyMs: number;
  /** Whole receive wakes: the syscalls, the copies and every handler the datagrams were given to. */
  readMs: number;
  /** Sending what waited for a full kernel buffer to drain, when the socket became writable (native path). */
  drainMs: number;
  /** DATA datagrams placed into slice memory (common/udp/placement.ts). */
  datagramsPlaced: number;
}

export interface UdpSocket {
  readonly path: IoPath;
  /** What the path does, for the start-up line: "dgram", "gso+gro", "sendmmsg+recvmmsg", … */
  readonly features: string;
  readonly stats: Readonly<UdpSocketStats>;
  bind(port: number, address?: string): Promise<void>;
  /** The default destination of send() without an address. */
  connect(port: number, address: string): Promise<void>;
  addMembership(group: string, interfaceAddress?: string): void;
  /** Leaves a group addMembership joined: the kernel stops handing its datagrams to this socket. */
  dropMembership(group: string, interfaceAddress?: string): void;
  setMulticastInterface(address: string): void;
  setMulticastTTL(ttl: number): void;
  setMulticastLoopback(on: boolean): void;
  setSendBufferSize(bytes: number): void;
  setRecvBufferSize(bytes: number): void;
  getSendBufferSize(): number;
  getRecvBufferSize(): number;
  /**
   * Queues one datagram to the connected destination, or to port/address. The native path
   * gathers equal-size datagrams to one destination into a batch that goes out on flush()
   * (or when the batch is full); dgram sends at once.
   */
  send(parts: readonly Uint8Array[], port?: number, address?: string): void;
  /** Sends whatever send() batched. */
  flush(): void;
  /** False when the kernel buffer is full: stop sending and wait for onDrain. */
  writable(): boolean;
  /** Calls cb once, when the socket is writable() again (soon, if it already is). */
  onDrain(cb: () => void): void;
  /**
   * True when everything flushed is in the kernel. Only a socket with a send thread (the
   * native path's sender data socket) can be writable() and not settled(): it takes batches
   * while its thread still sends earlier ones. What must not overtake flushed datagrams on
   * another socket waits for this.
   */
  settled(): boolean;
  /** Calls cb once, when the socket is settled() (soon, if it already is). */
  onSettled(cb: () => void): void;
  /** Every datagram received. The bytes are the handler's to keep: they are never reused. */
  onMessage(handler: MessageHandler): void;
  /**
   * From now on, DATA datagrams the table takes are placed into its slice memory and handed to
   * `onPlaced` as records, in arrival order with the datagrams onMessage gets
   * (common/udp/placement.ts). Without it (or before it), every datagram goes to onMessage.
   */
  setPlacement(table: PlacementTable, onPlaced: PlacedHandler): void;
  /** Where this socket's CPU time went (zeros where the path cannot tell). */
  readonly cpu: Readonly<UdpCpuStats>;
  onError(handler: (e: Error) => void): void;
  /** Sends what is still queued or batched (waiting at most CLOSE_WAIT_MS), then closes. */
  close(): Promise<void>;
}

/** How long close() waits for queued datagrams to leave. */
export const CLOSE_WAIT_MS = 1000;
