// An in-memory UdpFactory for driver tests: sockets that bind and connect to nothing,
// record what they are asked to do, and take datagrams a test hands them. No kernel, no
// ports, so a driver's race with its own I/O (a read still out when the session ends, a
// timer due while a datagram waits) can be staged exactly, under vi.useFakeTimers().

import type { UdpFactory } from '../../common/udp/select.js';
import type { MessageHandler, UdpCpuStats, UdpSocket, UdpSocketStats } from '../../common/udp/socket.js';

/** One datagram a driver sent: the parts concatenated, and where to (undefined: the connected destination). */
export interface FakeSent {
  readonly bytes: Uint8Array;
  readonly port: number | undefined;
  readonly address: string | undefined;
}

export class FakeUdpSocket implements UdpSocket {
  readonly path = 'dgram' as const;
  readonly features = 'fake';
  readonly stats: UdpSocketStats = { datagramsSent: 0, sendCalls: 0, sendBlocked: 0, sendErrors: 0, datagramsReceived: 0, recvCalls: 0 };
  readonly cpu: UdpCpuStats = { sendSyscallMs: 0, sendThreadMs: 0, recvSyscallMs: 0, recvCopyMs: 0, readMs: 0, drainMs: 0, datagramsPlaced: 0 };
  /** Every datagram sent, the parts concatenated, in order. */
  readonly sent: Uint8Array[] = []; // UNBOUNDED: one test's datagrams
  /** The same datagrams with their destinations. */
  readonly sends: FakeSent[] = []; // UNBOUNDED: one test's datagrams
  /** bind() calls, in order. */
  readonly binds: { readonly port: number; readonly address: string | undefined }[] = []; // UNBOUNDED: one test's calls
  readonly connects: { readonly port: number; readonly address: string }[] = []; // UNBOUNDED: one test's calls
  readonly memberships: { readonly group: string; readonly interfaceAddress: string | undefined }[] = []; // UNBOUNDED: one test's calls
  readonly membershipsDropped: { readonly group: string; readonly interfaceAddress: string | undefined }[] = []; // UNBOUNDED: one test's calls
  flushes = 0;
  closeCalls = 0;
  /** When set, bind() resolves only once this does (a kernel slow to bind and join). */
  bindGate: Promise<void> | undefined;
  /** What setRecvBufferSize() asked; getRecvBufferSize() grants it, as a kernel with a high rmem_max would. */
  recvBufferBytes = 212_992;
  sendBufferBytes = 212_992;
  /** False: writable() says no and onDrain waits until unblock(). */
  private open = true;
  private readonly drainWaiters: (() => void)[] = []; // UNBOUNDED: one test's waiters
  /** True: settled() says no (a send thread still holds DATA) and onSettled waits until releaseSettled(). */
  private unsettled = false;
  private readonly settledWaiters: (() => void)[] = []; // UNBOUNDED: one test's waiters
  private handler: MessageHandler | undefined;
  private errorHandler: ((e: Error) => void) | undefined;

  get closed(): boolean {
    return this.closeCalls > 0;
  }

  async bind(port: number, address?: string): Promise<void> {
    this.binds.push({ port, address });
    if (this.bindGate !== undefined) await this.bindGate;
  }
  async connect(port: number, address: string): Promise<void> {
    this.connects.push({ port, address });
  }
  addMembership(group: string, interfaceAddress?: string): void {
    this.memberships.push({ group, interfaceAddress });
  }
  dropMembership(group: string, interfaceAddress?: string): void {
    this.membershipsDropped.push({ group, interfaceAddress });
  }
  /** No placement: every datagram goes to onMessage, as the interface allows. */
  setPlacement(): void {}
  setMulticastInterface(): void {}
  setMulticastTTL(): void {}
  setMulticastLoopback(): void {}
  setSendBufferSize(bytes: number): void {
    this.sendBufferBytes = bytes;
  }
  setRecvBufferSize(bytes: number): void {
    this.recvBufferBytes = bytes;
  }
  getSendBufferSize(): number {
    return this.sendBufferBytes;
  }
  getRecvBufferSize(): number {
    return this.recvBufferBytes;
  }
  send(parts: readonly Uint8Array[], port?: number, address?: string): void {
    if (this.closed) throw new Error('send() on a closed socket');
    // A copy: the contract lets the sender reuse its buffers once the socket is writable again.
    const bytes = new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
    this.sent.push(bytes);
    this.sends.push({ bytes, port, address });
    this.stats.datagramsSent++;
    this.stats.sendCalls++;
  }
  flush(): void {
    this.flushes++;
  }
  writable(): boolean {
    return this.open;
  }
  onDrain(cb: () => void): void {
    if (this.open) setImmediate(cb);
    else this.drainWaiters.push(cb);
  }
  settled(): boolean {
    return this.writable() && !this.unsettled;
  }
  onSettled(cb: () => void): void {
    if (this.unsettled) this.settledWaiters.push(cb);
    else this.onDrain(cb);
  }
  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }
  onError(handler: (e: Error) => void): void {
    this.errorHandler = handler;
  }
  async close(): Promise<void> {
    this.closeCalls++;
  }

  /** A datagram arrives from `address`. Ignored once closed, as the kernel would. */
  deliver(bytes: Uint8Array, address: string, port = 9001): void {
    if (this.closed) return;
    this.stats.datagramsReceived++;
    this.handler?.(bytes, address, port);
  }

  /** The socket reports an error (as dgram's 'error' event does). */
  fail(e: Error): void {
    this.errorHandler?.(e);
  }

  /** The kernel buffer is full: writable() is false until unblock(). */
  block(): void {
    this.open = false;
    this.stats.sendBlocked++;
  }

  unblock(): void {
    this.open = true;
    for (const cb of this.drainWaiters.splice(0)) setImmediate(cb);
  }

  /** A send thread still has flushed DATA: writable() as it was, settled() false until releaseSettled(). */
  holdSettled(): void {
    this.unsettled = true;
  }

  releaseSettled(): void {
    this.unsettled = false;
    for (const cb of this.settledWaiters.splice(0)) this.onDrain(cb);
  }
}

/** The factory and every socket it made, in the order the driver made them. */
export function fakeUdp(): { factory: UdpFactory; sockets: FakeUdpSocket[] } {
  const sockets: FakeUdpSocket[] = []; // UNBOUNDED: a driver makes a handful
  return {
    sockets,
    factory: {
      path: 'dgram',
      description: 'fake',
      create: () => {
        const s = new FakeUdpSocket();
        sockets.push(s);
        return s;
      },
    },
  };
}
