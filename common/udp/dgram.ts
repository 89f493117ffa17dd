// The node:dgram path behind the UdpSocket seam (common/udp/socket.ts): one datagram per
// syscall, always available.

import dgram from 'node:dgram';
import { type PlacedHandler, type PlacementTable, TsPlacer } from './placement.js';
import { CLOSE_WAIT_MS, type MessageHandler, type UdpCpuStats, type UdpSocket, type UdpSocketStats } from './socket.js';

/** Datagrams libuv may hold for a full kernel buffer before writable() says stop. */
const MAX_SEND_QUEUE = 64;

export class DgramUdpSocket implements UdpSocket {
  readonly path = 'dgram' as const;
  readonly features = 'dgram';
  readonly stats: UdpSocketStats = { datagramsSent: 0, sendCalls: 0, sendBlocked: 0, sendErrors: 0, datagramsReceived: 0, recvCalls: 0 };
  readonly cpu: UdpCpuStats = { sendSyscallMs: 0, sendThreadMs: 0, recvSyscallMs: 0, recvCopyMs: 0, readMs: 0, drainMs: 0, datagramsPlaced: 0 };
  private readonly s: dgram.Socket;
  private connected = false;
  /** DATA placement in TypeScript (common/udp/placement.ts), once setPlacement ran. */
  private placer: TsPlacer | undefined;
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
  dropMembership(group: string, interfaceAddress?: string): void {
    this.s.dropMembership(group, interfaceAddress);
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

  // libuv's queue is the kernel's way in, in order: nothing to wait for beyond writable().
  settled(): boolean {
    return this.writable();
  }

  onSettled(cb: () => void): void {
    this.onDrain(cb);
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
      if (this.placer?.offer(msg, rinfo.address)) {
        this.cpu.datagramsPlaced++;
        return;
      }
      handler(msg, rinfo.address, rinfo.port);
    });
  }

  setPlacement(table: PlacementTable, onPlaced: PlacedHandler): void {
    if (table.enabled) this.placer = new TsPlacer(table, onPlaced);
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
