// The drivers' UDP socket seam (DESIGN principle 7): one small interface, two paths.
//
// - `DgramUdpSocket` (this file): node:dgram, one datagram per syscall. Always available.
// - `NativeUdpSocket` (native/udp-native.ts): the C++ addon, which batches sends with
//   UDP_SEGMENT (GSO) or sendmmsg and reads with UDP_GRO or recvmmsg.
//
// native/udp.ts picks one at start-up (`--io auto|native|dgram`) and says which once.
//
// Contract for send(): the datagram is `parts` concatenated. The bytes must stay unchanged
// until the socket is writable() again after a flush() (dgram hands them to libuv, which may
// queue them; the native path copies them into its batch at once). The sender core's header
// ring and slice retention keep that promise.

import dgram from 'node:dgram';

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

export interface UdpSocket {
  readonly path: IoPath;
  /** What the path does, for the start-up line: "dgram", "gso+gro", "sendmmsg+recvmmsg", … */
  readonly features: string;
  readonly stats: Readonly<UdpSocketStats>;
  bind(port: number, address?: string): Promise<void>;
  /** The default destination of send() without an address. */
  connect(port: number, address: string): Promise<void>;
  addMembership(group: string, interfaceAddress?: string): void;
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
  /** Every datagram received. The bytes are the handler's to keep: they are never reused. */
  onMessage(handler: MessageHandler): void;
  onError(handler: (e: Error) => void): void;
  /** Sends what is still queued or batched (waiting at most CLOSE_WAIT_MS), then closes. */
  close(): Promise<void>;
}

/** How long close() waits for queued datagrams to leave. */
export const CLOSE_WAIT_MS = 1000;

/** Datagrams libuv may hold for a full kernel buffer before writable() says stop. */
const MAX_SEND_QUEUE = 64;

export class DgramUdpSocket implements UdpSocket {
  readonly path = 'dgram' as const;
  readonly features = 'dgram';
  readonly stats: UdpSocketStats = { datagramsSent: 0, sendCalls: 0, sendBlocked: 0, sendErrors: 0, datagramsReceived: 0, recvCalls: 0 };
  private readonly s: dgram.Socket;
  private connected = false;
  private drainWaiters: (() => void)[] = [];

  constructor(opts: { readonly reuseAddr?: boolean } = {}) {
    this.s = dgram.createSocket({ type: 'udp4', reuseAddr: opts.reuseAddr ?? false });
  }

  bind(port: number, address?: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.s.once('error', reject);
      this.s.bind(port, address, () => {
        this.s.off('error', reject);
        resolve();
      });
    });
  }

  connect(port: number, address: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.s.once('error', reject);
      this.s.connect(port, address, () => {
        this.s.off('error', reject);
        this.connected = true;
        resolve();
      });
    });
  }

  addMembership(group: string, interfaceAddress?: string): void {
    this.s.addMembership(group, interfaceAddress);
  }
  setMulticastInterface(address: string): void {
    this.s.setMulticastInterface(address);
  }
  setMulticastTTL(ttl: number): void {
    this.s.setMulticastTTL(ttl);
  }
  setMulticastLoopback(on: boolean): void {
    this.s.setMulticastLoopback(on);
  }
  setSendBufferSize(bytes: number): void {
    this.s.setSendBufferSize(bytes);
  }
  setRecvBufferSize(bytes: number): void {
    this.s.setRecvBufferSize(bytes);
  }
  getSendBufferSize(): number {
    return this.s.getSendBufferSize();
  }
  getRecvBufferSize(): number {
    return this.s.getRecvBufferSize();
  }

  send(parts: readonly Uint8Array[], port?: number, address?: string): void {
    this.stats.datagramsSent++;
    this.stats.sendCalls++;
    const list = parts as Uint8Array[];
    // A send that finds libuv's queue nearly full carries a callback: when it completes, the
    // queue has room again and the drain waiters run.
    const cb = this.s.getSendQueueCount() >= MAX_SEND_QUEUE - 1 ? this.onQueuedSent : undefined;
    if (cb !== undefined) this.stats.sendBlocked++;
    if (port === undefined) {
      if (!this.connected) throw new Error('send without an address on an unconnected socket');
      this.s.send(list, cb);
    } else {
      this.s.send(list, port, address, cb);
    }
  }

  flush(): void {
    // dgram sends at once.
  }

  writable(): boolean {
    return this.s.getSendQueueCount() < MAX_SEND_QUEUE;
  }

  onDrain(cb: () => void): void {
    if (this.writable()) {
      setImmediate(cb);
      return;
    }
    this.drainWaiters.push(cb);
  }

  private readonly onQueuedSent = (e: Error | null): void => {
    if (e) this.stats.sendErrors++;
    if (!this.writable() || this.drainWaiters.length === 0) return;
    const ws = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of ws) w();
  };

  onMessage(handler: MessageHandler): void {
    this.s.on('message', (msg, rinfo) => {
      this.stats.datagramsReceived++;
      handler(msg, rinfo.address, rinfo.port);
    });
  }

  onError(handler: (e: Error) => void): void {
    this.s.on('error', handler);
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Datagrams still queued in libuv would be cancelled by close: let them go first.
    const until = Date.now() + CLOSE_WAIT_MS;
    while (this.s.getSendQueueCount() > 0 && Date.now() < until) {
      await new Promise<void>((r) => setTimeout(r, 1));
    }
    await new Promise<void>((resolve) => {
      try {
        this.s.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
  }
}
